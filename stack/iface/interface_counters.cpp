// The interface's figures by stable name (see interface_impl.hpp and
// stack/metrics.hpp): "eth.*", "arp.*", "ipv4.*", "icmp.*", with the
// ArpCache's and Reassembler's own in their layer's place.
#include "stack/iface/interface_impl.hpp"

namespace tapstack::iface {

void Interface::Impl::visit_metrics(const MetricVisitor& v) const {
#define TAPSTACK_X(layer, field, kind, help) v({#layer "." #field, MetricKind::kind, help}, st.layer##_##field);
    TAPSTACK_ETH_COUNTERS(TAPSTACK_X)
    TAPSTACK_ARP_COUNTERS(TAPSTACK_X)
    arp.visit_metrics(v);
    TAPSTACK_IPV4_RX_COUNTERS(TAPSTACK_X)
    reasm.visit_metrics(v);
    TAPSTACK_IPV4_TX_COUNTERS(TAPSTACK_X)
    TAPSTACK_ICMP_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
}

}  // namespace tapstack::iface
