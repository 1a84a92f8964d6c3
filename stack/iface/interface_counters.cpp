// The interface's counters by stable name (see counters.hpp): "eth.*",
// "arp.*", "ipv4.*", "icmp.*", with the ArpCache's and Reassembler's own in
// their layer's place.
#include "stack/iface/interface_impl.hpp"

namespace tapstack::iface {

void Interface::Impl::visit_counters(const CounterVisitor& v) const {
    v("eth.rx_frames", st.eth_rx_frames);
    v("eth.rx_truncated", st.eth_rx_truncated);
    v("eth.rx_not_for_us", st.eth_rx_not_for_us);
    v("eth.rx_multicast_dropped", st.eth_rx_multicast_dropped);
    v("eth.rx_bad_source", st.eth_rx_bad_source);
    v("eth.rx_vlan_dropped", st.eth_rx_vlan_dropped);
    v("eth.rx_unknown_ethertype", st.eth_rx_unknown_ethertype);
    v("eth.tx_frames", st.eth_tx_frames);
    v("eth.tx_dropped", st.eth_tx_dropped);
    v("arp.rx_packets", st.arp_rx_packets);
    v("arp.rx_truncated", st.arp_rx_truncated);
    v("arp.rx_bad_hardware_type", st.arp_rx_bad_hardware_type);
    v("arp.rx_bad_protocol_type", st.arp_rx_bad_protocol_type);
    v("arp.rx_bad_address_length", st.arp_rx_bad_address_length);
    v("arp.rx_bad_operation", st.arp_rx_bad_operation);
    v("arp.rx_bad_sender", st.arp_rx_bad_sender);
    v("arp.rx_address_conflict", st.arp_rx_address_conflict);
    v("arp.rx_requests", st.arp_rx_requests);
    v("arp.rx_replies", st.arp_rx_replies);
    v("arp.rx_not_for_us", st.arp_rx_not_for_us);
    v("arp.rx_merged", st.arp_rx_merged);
    v("arp.tx_requests", st.arp_tx_requests);
    v("arp.tx_replies", st.arp_tx_replies);
    v("arp.tx_announcements", st.arp_tx_announcements);
    arp.visit_counters(v);
    v("ipv4.rx_packets", st.ipv4_rx_packets);
    v("ipv4.rx_truncated", st.ipv4_rx_truncated);
    v("ipv4.rx_bad_version", st.ipv4_rx_bad_version);
    v("ipv4.rx_bad_header_length", st.ipv4_rx_bad_header_length);
    v("ipv4.rx_bad_total_length", st.ipv4_rx_bad_total_length);
    v("ipv4.rx_bad_checksum", st.ipv4_rx_bad_checksum);
    v("ipv4.rx_bad_source", st.ipv4_rx_bad_source);
    v("ipv4.rx_not_for_us", st.ipv4_rx_not_for_us);
    v("ipv4.rx_multicast_dropped", st.ipv4_rx_multicast_dropped);
    v("ipv4.rx_unicast_in_link_broadcast", st.ipv4_rx_unicast_in_link_broadcast);
    v("ipv4.rx_broadcast_tcp_dropped", st.ipv4_rx_broadcast_tcp_dropped);
    v("ipv4.rx_unknown_protocol", st.ipv4_rx_unknown_protocol);
    v("ipv4.rx_delivered", st.ipv4_rx_delivered);
    reasm.visit_counters(v);
    v("ipv4.tx_packets", st.ipv4_tx_packets);
    v("ipv4.tx_fragments", st.ipv4_tx_fragments);
    v("ipv4.tx_no_route", st.ipv4_tx_no_route);
    v("ipv4.tx_df_too_big", st.ipv4_tx_df_too_big);
    v("ipv4.tx_too_big", st.ipv4_tx_too_big);
    v("ipv4.tx_arp_queued", st.ipv4_tx_arp_queued);
    v("ipv4.tx_arp_dropped", st.ipv4_tx_arp_dropped);
    v("ipv4.rx_gso_frames", st.ipv4_rx_gso_frames);
    v("ipv4.rx_csum_offloaded", st.ipv4_rx_csum_offloaded);
    v("ipv4.rx_bad_offload", st.ipv4_rx_bad_offload);
    v("ipv4.tx_tso_frames", st.ipv4_tx_tso_frames);
    v("ipv4.tx_tso_unresolved", st.ipv4_tx_tso_unresolved);
    v("icmp.rx_messages", st.icmp_rx_messages);
    v("icmp.rx_truncated", st.icmp_rx_truncated);
    v("icmp.rx_bad_checksum", st.icmp_rx_bad_checksum);
    v("icmp.rx_unsupported_type", st.icmp_rx_unsupported_type);
    v("icmp.rx_echo_requests", st.icmp_rx_echo_requests);
    v("icmp.rx_echo_broadcast_ignored", st.icmp_rx_echo_broadcast_ignored);
    v("icmp.rx_echo_replies", st.icmp_rx_echo_replies);
    v("icmp.rx_dest_unreachable", st.icmp_rx_dest_unreachable);
    v("icmp.rx_time_exceeded", st.icmp_rx_time_exceeded);
    v("icmp.rx_errors_for_tcp", st.icmp_rx_errors_for_tcp);
    v("icmp.rx_errors_not_for_tcp", st.icmp_rx_errors_not_for_tcp);
    v("icmp.tx_echo_replies", st.icmp_tx_echo_replies);
    v("icmp.tx_dest_unreachable", st.icmp_tx_dest_unreachable);
    v("icmp.tx_time_exceeded", st.icmp_tx_time_exceeded);
    v("icmp.tx_error_suppressed", st.icmp_tx_error_suppressed);
    v("icmp.tx_error_rate_limited", st.icmp_tx_error_rate_limited);
}

}  // namespace tapstack::iface
