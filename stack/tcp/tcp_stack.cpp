// TcpStack: the connection table, user calls (RFC 9293 3.10.1-3.10.6),
// events and the poll loop. Segment arrival is in tcp_input.cpp, output and
// timers in tcp_output.cpp; tcp_stack_impl.hpp explains how they fit.
#include "stack/tcp/tcp_stack.hpp"

#include <algorithm>

#include "stack/tcp/cubic.hpp"
#include "stack/tcp/tcp_stack_impl.hpp"

namespace tapstack::tcp {

std::string_view to_string(Error e) {
    switch (e) {
        case Error::kNone: return "none";
        case Error::kRefused: return "connection refused";
        case Error::kReset: return "connection reset by peer";
        case Error::kTimedOut: return "connection timed out";
        case Error::kHostUnreachable: return "host unreachable";
        case Error::kAddressInUse: return "address in use";
        case Error::kNoResources: return "no resources";
        case Error::kInvalidArgument: return "invalid argument";
        case Error::kNotConnected: return "not connected";
        case Error::kAborted: return "connection aborted";
        case Error::kNoMemory: return "TCP memory budget exhausted";
    }
    return "unknown";
}

std::string_view to_string(State s) {
    switch (s) {
        case State::kClosed: return "CLOSED";
        case State::kListen: return "LISTEN";
        case State::kSynSent: return "SYN-SENT";
        case State::kSynReceived: return "SYN-RECEIVED";
        case State::kEstablished: return "ESTABLISHED";
        case State::kFinWait1: return "FIN-WAIT-1";
        case State::kFinWait2: return "FIN-WAIT-2";
        case State::kCloseWait: return "CLOSE-WAIT";
        case State::kClosing: return "CLOSING";
        case State::kLastAck: return "LAST-ACK";
        case State::kTimeWait: return "TIME-WAIT";
    }
    return "?";
}

// ---------------------------------------------------------------- Impl: table

namespace {

// Bounds every configuration is held to, whoever built it.
TcpConfig normalized(TcpConfig config) {
    if (config.ephemeral_port_min == 0) config.ephemeral_port_min = 1;
    if (config.ephemeral_port_max < config.ephemeral_port_min) config.ephemeral_port_max = config.ephemeral_port_min;
    if (config.mtu < 40 + kMinMss) config.mtu = 40 + kMinMss;
    // RFC 7323 2.3: the largest window is 2^30 - 1 (shift 14 on 65535).
    config.receive_buffer = std::min<std::uint32_t>(config.receive_buffer, (65535u << 14));
    config.receive_buffer = std::max<std::uint32_t>(config.receive_buffer, 1);
    config.send_buffer = std::max<std::uint32_t>(config.send_buffer, 1);
    config.receive_buffer_max = std::min<std::uint32_t>(config.receive_buffer_max, (65535u << 14));
    config.delayed_ack_timeout = std::clamp(config.delayed_ack_timeout, Duration::zero(), kMaxDelayedAck);
    config.keepalive_idle = std::max<Duration>(config.keepalive_idle, seconds(1));
    config.keepalive_interval = std::max<Duration>(config.keepalive_interval, seconds(1));
    config.keepalive_count = std::max<std::uint32_t>(config.keepalive_count, 1);
    if (!is_known_congestion_control(config.congestion_control)) config.congestion_control = "newreno";
    return config;
}

}  // namespace

TcpStack::Impl::Impl(const TcpConfig& cfg, SegmentSink& s, const Secret& secret)
    : config(normalized(cfg)),
      conn_config(std::make_shared<const TcpConfig>(config)),
      sink(s),
      isn(secret),
      rtt_proto(config.initial_rto, config.min_rto, config.max_rto),
      cookies_(derive_key(secret, KeyUse::kSynCookie)),
      budget_(config.memory_max) {
    tx_buf.resize(wire::kTcpHeaderMaxLen + 65536);
}

void TcpStack::Impl::set_config(const TcpConfig& next) {
    TcpConfig c = next;
    // The interface's, not TCP's to change.
    c.local_address = config.local_address;
    c.mtu = config.mtu;
    c.tso = config.tso;
    config = normalized(std::move(c));
    conn_config = std::make_shared<const TcpConfig>(config);
    rtt_proto = RttEstimator(config.initial_rto, config.min_rto, config.max_rto);
    budget_.set_limit(config.memory_max);
}

Tcb* TcpStack::Impl::get(ConnId id) {
    if (!id.valid() || id.index >= tcbs.size() || generations_[id.index] != id.generation || !tcbs[id.index])
        return nullptr;
    return tcbs[id.index].get();
}

const Tcb* TcpStack::Impl::get(ConnId id) const {
    if (!id.valid() || id.index >= tcbs.size() || generations_[id.index] != id.generation || !tcbs[id.index])
        return nullptr;
    return tcbs[id.index].get();
}

Tcb* TcpStack::Impl::get_owned(ConnId id) {
    Tcb* t = get(id);
    return t && t->app_owned ? t : nullptr;
}

const Tcb* TcpStack::Impl::get_owned(ConnId id) const {
    const Tcb* t = get(id);
    return t && t->app_owned ? t : nullptr;
}

void TcpStack::Impl::drop_events_for(ConnId id) {
    std::erase_if(events, [&](const Event& e) { return e.kind == Event::Kind::kConnection && e.conn == id; });
}

std::uint32_t TcpStack::Impl::alloc_tcb() {
    if (live_tcbs >= config.max_connections && !recycle_time_wait()) return kNoListener;
    std::uint32_t index;
    if (!free_slots.empty()) {
        index = free_slots.back();
        free_slots.pop_back();
    } else {
        index = static_cast<std::uint32_t>(tcbs.size());
        tcbs.emplace_back();
        generations_.push_back(0);
    }
    ++generations_[index];
    if (generations_[index] == 0) generations_[index] = 1;  // 0 never names a live connection
    tcbs[index] = std::make_unique<Tcb>(config.send_buffer, config.receive_buffer, rtt_proto);
    tcbs[index]->cfg = conn_config;
    tcbs[index]->ooo = buf::Assembler(kMaxOooRanges);
    tcbs[index]->nodelay = config.no_delay;
    tcbs[index]->keepalive = config.keepalive;
    ++live_tcbs;
    return index;
}

void TcpStack::Impl::free_tcb(std::uint32_t index) {
    Tcb& t = *tcbs[index];
    table_remove(index);
    remove_from_listener(index);
    (void)t;
    wheel_.cancel(index);
    reclaim_wheel_.cancel(index);
    orphan_forget(t);
    memory_forget(t);
    tcbs[index].reset();
    ++generations_[index];  // stale handles stop matching at once
    if (generations_[index] == 0) generations_[index] = 1;
    free_slots.push_back(index);
    --live_tcbs;
}

bool TcpStack::Impl::in_time_wait(ConnId id) const {
    const Tcb* t = get(id);
    return t && t->state == State::kTimeWait;
}

// The table is full: the connection that has been in TIME-WAIT longest
// (and that no application still holds) gives its slot up, as Linux does
// when tcp_max_tw_buckets is reached. TIME-WAIT guards against old
// duplicates of a connection that has ended in order; losing that guard
// for the oldest one is better than refusing every new connection while a
// sustained active-close rate keeps the table full.
bool TcpStack::Impl::recycle_time_wait() {
    while (!time_wait_order_.empty()) {
        const ConnId id = time_wait_order_.front();
        time_wait_order_.pop_front();
        if (!in_time_wait(id) || tcbs[id.index]->app_owned) continue;
        counters.inc(Counter::time_wait_recycled);
        close_orderly(id.index);
        release_if_done(id.index);
        return true;
    }
    return false;
}

TupleKey TcpStack::Impl::key_of(const Tcb& t) {
    return TupleKey{t.local.address, t.remote.address, t.local.port, t.remote.port};
}

void TcpStack::Impl::table_insert(std::uint32_t index) { table[key_of(*tcbs[index])] = index; }

void TcpStack::Impl::table_remove(std::uint32_t index) {
    auto it = table.find(key_of(*tcbs[index]));
    if (it != table.end() && it->second == index) table.erase(it);
}

std::uint32_t TcpStack::Impl::lookup(const TupleKey& key) const {
    auto it = table.find(key);
    return it == table.end() ? kNoListener : it->second;
}

Listener* TcpStack::Impl::get_listener(ListenerId id) {
    if (!id.valid() || id.index >= listeners.size()) return nullptr;
    Listener& l = listeners[id.index];
    if (!l.in_use || l.generation != id.generation) return nullptr;
    return &l;
}

void TcpStack::Impl::remove_from_listener(std::uint32_t index) {
    Tcb& t = *tcbs[index];
    if (t.listener == kNoListener) return;
    Listener& l = listeners[t.listener];
    std::erase(l.embryonic, index);
    std::erase(l.accept_queue, index);
    t.listener = kNoListener;
    t.in_accept_queue = false;
}

void TcpStack::Impl::release_if_done(std::uint32_t index) {
    if (index >= tcbs.size() || !tcbs[index]) return;
    Tcb& t = *tcbs[index];
    if (t.state != State::kClosed) return;
    table_remove(index);
    // A failed connection still in an accept queue waits there for its
    // application (see fail()); close_listener() frees it otherwise.
    if (!t.app_owned && !t.in_accept_queue) free_tcb(index);
}

std::uint8_t TcpStack::Impl::our_wscale() const {
    // Large enough for the biggest window auto-tuning may reach.
    const std::uint32_t largest = std::max(config.receive_buffer, config.receive_buffer_max);
    std::uint8_t s = 0;
    while (s < 14 && (largest >> s) > 65535) ++s;
    return s;
}

std::uint16_t TcpStack::Impl::our_mss(const IpAddress& family) const {
    return static_cast<std::uint16_t>(config.mtu - (family.is_ipv6() ? PathMtu::kHeaders6 : PathMtu::kHeaders));
}

bool TcpStack::Impl::choose_ephemeral_port(const IpAddress& local, IpEndpoint remote, std::uint16_t* port) {
    // RFC 6056 3.3.3 (algorithm 3).
    const std::uint32_t min = config.ephemeral_port_min;
    const std::uint32_t num = std::uint32_t{config.ephemeral_port_max} - min + 1;
    const std::uint32_t offset = isn.port_offset(local, remote);
    for (std::uint32_t count = 0; count < num; ++count) {
        const auto candidate = static_cast<std::uint16_t>(min + (port_counter + offset) % num);
        ++port_counter;  // next_ephemeral++
        const TupleKey key{local, remote.address, candidate, remote.port};
        if (lookup(key) == kNoListener && !listener_by_port.contains(candidate)) {
            *port = candidate;
            return true;
        }
    }
    return false;
}

void TcpStack::Impl::init_send_side(Tcb& t, Instant now, std::optional<SeqNum> prior_snd_max) {
    t.iss = isn.isn(now, t.local, t.remote);
    // RFC 6191: a new incarnation of a tuple that was in TIME-WAIT starts
    // beyond everything the old one sent, so none of its segments can be
    // taken for the new one's (as Linux: old SND.NXT + 65535 + 2).
    if (prior_snd_max && !(t.iss > *prior_snd_max)) t.iss = *prior_snd_max + 65537u;
    t.snd_una = t.iss;
    t.snd_nxt = t.iss;
    t.snd_max = t.iss;
    t.snd_buf_seq = t.iss + 1;
    t.recovery.init(t.iss);
    t.cwnd_usage_seq = t.iss;
    t.persist_interval = t.rtt.rto();
    // RFC 7323 5.4: an offset for our timestamp clock, per address pair
    // and from its own key (isn.hpp): TSvals grow across incarnations of a
    // tuple and reveal nothing about the ISN.
    t.ts_offset = isn.ts_offset(t.local.address, t.remote.address);
}

// ---------------------------------------------------------------- Impl: events

void TcpStack::Impl::notify(std::uint32_t index) {
    Tcb& t = *tcbs[index];
    if (!t.app_owned || t.event_pending) return;
    t.event_pending = true;
    events.push_back(Event{Event::Kind::kConnection, id_of(index), {}});
}

void TcpStack::Impl::notify_listener(std::uint32_t li) {
    Listener& l = listeners[li];
    if (l.event_pending) return;
    l.event_pending = true;
    events.push_back(Event{Event::Kind::kListener, {}, ListenerId{li, l.generation}});
}

void TcpStack::Impl::mark_dirty(std::uint32_t index) {
    Tcb& t = *tcbs[index];
    if (t.dirty) return;
    t.dirty = true;
    dirty_list.push_back(index);
}

void TcpStack::Impl::arm(Instant& deadline, Instant when) {
    deadline = when;
    armed_ = true;
}

void TcpStack::Impl::reschedule(std::uint32_t index) {
    if (index >= tcbs.size() || !tcbs[index]) return;
    wheel_.schedule(index, earliest_deadline(*tcbs[index]));
}

namespace {
// Whether the connection may hold buffer storage (allocated on first use).
bool may_hold_buffers(const Tcb& t) {
    return t.bytes_sent > 0 || t.bytes_received > 0 || t.ooo_segments > 0 || !t.send_buf.empty() ||
           !t.recv_buf.empty();
}
}  // namespace

// An idle connection that once carried data keeps its buffers' storage
// (touched pages stay resident: up to the whole buffer after a bulk
// transfer). The reclaim check is lazy, as Linux's keepalive timer: the
// wheel entry is set once and, when it fires early because the connection
// was active since, moved to last activity + kBufferReclaimIdle; so an
// active connection costs one vector store per visit, not a wheel move.
void TcpStack::Impl::note_active(std::uint32_t index, Instant now) {
    if (index >= tcbs.size() || !tcbs[index]) return;
    if (last_active_.size() <= index) last_active_.resize(std::size_t{index} + 1);
    last_active_[index] = now;
    memory_release_empty(index);
    if (!reclaim_wheel_.scheduled(index) && may_hold_buffers(*tcbs[index]))
        reclaim_wheel_.schedule(index, now + kBufferReclaimIdle);
}

void TcpStack::Impl::reclaim_buffers(Instant now) {
    reclaim_wheel_.expire(now, due_);
    for (const std::uint32_t i : due_) {
        if (i >= tcbs.size() || !tcbs[i]) continue;
        Tcb& t = *tcbs[i];
        const Instant quiet_from = last_active_[i] + kBufferReclaimIdle;
        if (quiet_from > now) {
            reclaim_wheel_.schedule(i, quiet_from);  // active meanwhile
        } else if (t.send_buf.empty() && t.recv_buf.empty() && t.ooo.empty()) {
            // Nothing queued either way, nothing held out of order: the
            // storage holds no byte anybody needs. Capacities (and so the
            // advertised window) are unchanged.
            t.send_buf.release();
            t.recv_buf.release();
            recharge(i);
            counters.inc(Counter::buffers_reclaimed);
        }
        // Otherwise data waits for the application or the peer: no periodic
        // re-check; the next activity (the read that drains it, the ACK
        // that frees it: both visit or note the TCB) schedules one again.
    }
    due_.clear();
}

// ---------------------------------------------------------------- Impl: state changes

void TcpStack::Impl::set_state(std::uint32_t index, State s) {
    Tcb& t = *tcbs[index];
    if (t.state == s) return;
    t.state = s;
    if (s == State::kTimeWait || s == State::kClosed) orphan_forget(t);
    notify(index);
}

void TcpStack::Impl::enter_time_wait(std::uint32_t index, Instant now) {
    Tcb& t = *tcbs[index];
    set_state(index, State::kTimeWait);
    // Oldest first, for recycle_time_wait(). Entries of TCBs that left
    // TIME-WAIT meanwhile are dropped from the front as they come up, and
    // all at once when they outnumber the live TCBs (one TIME-WAIT kept
    // alive by its peer must not hold the rest), so the list stays O(TCBs).
    while (!time_wait_order_.empty() && !in_time_wait(time_wait_order_.front())) time_wait_order_.pop_front();
    if (time_wait_order_.size() > 2 * live_tcbs + 16)
        std::erase_if(time_wait_order_, [&](ConnId id) { return !in_time_wait(id); });
    time_wait_order_.push_back(id_of(index));
    t.rtx_deadline = kNever;
    t.persist_deadline = kNever;
    t.keepalive_deadline = t.sws_deadline = kNever;
    // Nothing will be sent or received any more: give the buffer memory back
    // for the 2*MSL wait (unread data, if any, stays for the application).
    t.send_buf.release();
    if (t.recv_buf.empty()) t.recv_buf.release();
    recharge(index);
    arm(t.linger_deadline, now + 2 * t.cfg->msl);
}

void TcpStack::Impl::fail(std::uint32_t index, Error e) {
    Tcb& t = *tcbs[index];
    if (t.passive && !t.established_once) {
        counters.inc(Counter::embryonic_dropped);
    }
    t.error = e;
    t.rtx_deadline = t.persist_deadline = t.linger_deadline = t.delack_deadline = kNever;
    t.keepalive_deadline = t.sws_deadline = kNever;
    t.ack_now = false;
    t.recovery.cancel();
    // An embryonic connection that fails is forgotten: it acknowledged no
    // data. One waiting in the accept queue keeps its place, its received
    // data and its error, as Linux does: accept() hands it out, the
    // application reads every acknowledged byte and then learns the error.
    if (t.listener != kNoListener && !t.in_accept_queue) remove_from_listener(index);
    set_state(index, State::kClosed);
    table_remove(index);
}

void TcpStack::Impl::close_orderly(std::uint32_t index) {
    Tcb& t = *tcbs[index];
    t.rtx_deadline = t.persist_deadline = t.linger_deadline = t.delack_deadline = kNever;
    t.keepalive_deadline = t.sws_deadline = kNever;
    set_state(index, State::kClosed);
    table_remove(index);
}

std::unique_ptr<CongestionControl> TcpStack::Impl::make_congestion_control(const Tcb& t, std::uint32_t mss) const {
    if (t.cfg->congestion_control == "cubic") return make_cubic(mss);
    return make_new_reno(mss);
}

bool is_known_congestion_control(std::string_view name) { return name == "cubic" || name == "newreno"; }

std::string_view to_string(MtuProbing m) {
    switch (m) {
        case MtuProbing::kOff: return "off";
        case MtuProbing::kOnBlackhole: return "on-blackhole";
        case MtuProbing::kAlways: return "always";
    }
    return "?";
}

void TcpStack::Impl::established(std::uint32_t index, Instant now) {
    Tcb& t = *tcbs[index];
    t.established_once = true;
    counters.inc(Counter::conn_established);
    if (!t.cc) t.cc = make_congestion_control(t, t.eff_mss());
    if (t.syn_timed_out) t.rtt.reinitialize_after_syn_timeout();
    t.rcv_mss = std::min<std::uint32_t>(t.rcv_mss, our_mss(t.remote.address));
    t.rcvq_time = now;
    t.rcv_space = 10 * t.rcv_mss;
    note_peer_alive(now, t);
    // A half-close requested before the handshake completed takes effect now.
    set_state(index, t.write_closed ? State::kFinWait1 : State::kEstablished);
    if (t.passive && t.listener != kNoListener) {
        Listener& l = listeners[t.listener];
        std::erase(l.embryonic, index);
        l.accept_queue.push_back(index);
        t.in_accept_queue = true;
        notify_listener(t.listener);
    }
    mark_dirty(index);
}

// <SEQ=SND.MAX><ACK=RCV.NXT><CTL=RST,ACK> (RFC 9293 3.10.4-3.10.5). SND.MAX,
// not SND.NXT: after an RTO pulled SND.NXT back, the peer may already hold
// data up to SND.MAX, and it takes an RST only at exactly its RCV.NXT
// (RFC 5961 3.2); one below that would draw a challenge ACK instead.
void TcpStack::Impl::queue_abort_reset(const Tcb& t) {
    queue_reset(PendingReset{t.local, t.remote, t.snd_max, t.rcv_nxt, true});
}

void TcpStack::Impl::queue_reset(const PendingReset& r) {
    if (resets.size() >= kMaxPendingResets) {
        counters.inc(Counter::rst_queue_full);
        return;
    }
    resets.push_back(r);
}

// ---------------------------------------------------------------- TcpStack

TcpStack::TcpStack(const TcpConfig& config, SegmentSink& sink, const Secret& secret)
    : impl_(std::make_unique<Impl>(config, sink, secret)) {}

void TcpStack::set_config(const TcpConfig& config) { impl_->set_config(config); }

const TcpConfig& TcpStack::config() const { return impl_->config; }

TcpStack::~TcpStack() = default;

Error TcpStack::listen(std::uint16_t port, std::uint32_t backlog, ListenerId* out, ListenFamily family) {
    Impl& m = *impl_;
    if (port == 0) return Error::kInvalidArgument;
    if (m.listener_by_port.contains(port)) return Error::kAddressInUse;
    std::uint32_t li = 0;
    while (li < m.listeners.size() && m.listeners[li].in_use) ++li;
    if (li == m.listeners.size()) m.listeners.emplace_back();
    Listener& l = m.listeners[li];
    ++l.generation;
    if (l.generation == 0) l.generation = 1;
    l.in_use = true;
    l.port = port;
    l.family = family;
    l.backlog = backlog == 0 ? m.config.default_backlog : backlog;
    l.backlog = std::max<std::uint32_t>(l.backlog, 1);
    l.accept_queue.clear();
    l.embryonic.clear();
    l.event_pending = false;
    m.listener_by_port[port] = li;
    if (out) *out = ListenerId{li, l.generation};
    return Error::kNone;
}

ConnId TcpStack::accept(ListenerId listener) {
    Impl& m = *impl_;
    Listener* l = m.get_listener(listener);
    if (!l) return {};
    l->event_pending = false;  // a new event is raised for the next arrival
    while (!l->accept_queue.empty()) {
        const std::uint32_t index = l->accept_queue.front();
        l->accept_queue.pop_front();
        Tcb& t = *m.tcbs[index];
        t.in_accept_queue = false;
        t.listener = kNoListener;
        t.app_owned = true;
        m.counters.inc(Counter::conn_accepted);
        // Data or FIN may already be waiting: make sure the application looks.
        m.notify(index);
        if (!l->accept_queue.empty()) m.notify_listener(listener.index);
        return m.id_of(index);
    }
    return {};
}

void TcpStack::close_listener(ListenerId listener) {
    Impl& m = *impl_;
    Listener* l = m.get_listener(listener);
    if (!l) return;
    std::vector<std::uint32_t> doomed(l->embryonic.begin(), l->embryonic.end());
    doomed.insert(doomed.end(), l->accept_queue.begin(), l->accept_queue.end());
    for (std::uint32_t index : doomed) {
        Tcb& t = *m.tcbs[index];
        m.remove_from_listener(index);
        if (t.state != State::kClosed) {  // one that failed while queued needs no RST
            m.queue_abort_reset(t);
            m.counters.inc(Counter::conn_aborted);
            m.fail(index, Error::kAborted);
        }
        m.release_if_done(index);
    }
    m.listener_by_port.erase(l->port);
    l->in_use = false;
    l->accept_queue.clear();
    l->embryonic.clear();
    ++l->generation;
    if (l->generation == 0) l->generation = 1;
}

Error TcpStack::connect(Instant now, IpEndpoint remote, std::uint16_t local_port, ConnId* out) {
    Impl& m = *impl_;
    m.last_now_ = std::max(m.last_now_, now);
    const auto a = remote.address;
    if (remote.port == 0 || a.is_unspecified() || a.is_limited_broadcast() || a.is_multicast() ||
        a == IpAddress(m.config.local_address) || (a.is_ipv6() && (a.ipv6().is_ipv4_mapped() || a.ipv6().is_loopback())))
        return Error::kInvalidArgument;
    IpAddress local = m.config.local_address;
    if (a.is_ipv6()) {
        const auto source = m.sink.source_for(a.ipv6());
        if (!source) return Error::kHostUnreachable;
        if (*source == a.ipv6()) return Error::kInvalidArgument;  // ourselves
        local = *source;
    }
    std::uint16_t port = local_port;
    if (port == 0) {
        if (!m.choose_ephemeral_port(local, remote, &port)) return Error::kNoResources;
    } else if (m.lookup(TupleKey{local, a, port, remote.port}) != kNoListener) {
        return Error::kAddressInUse;
    }
    if (!m.memory_admit_connection()) {
        m.counters.inc(Counter::memory_connect_refused);
        return Error::kNoMemory;
    }
    const std::uint32_t index = m.alloc_tcb();
    if (index == kNoListener) return Error::kNoResources;
    Tcb& t = *m.tcbs[index];
    t.local = IpEndpoint{local, port};
    t.remote = remote;
    t.app_owned = true;
    t.state = State::kSynSent;
    t.rcv_wscale = t.cfg->window_scaling ? m.our_wscale() : 0;
    m.init_send_side(t, now);
    m.table_insert(index);
    m.mark_dirty(index);
    m.counters.inc(Counter::conn_opened);
    if (out) *out = m.id_of(index);
    return Error::kNone;
}

namespace {
bool can_send_state(State s) {
    return s == State::kSynSent || s == State::kSynReceived || s == State::kEstablished || s == State::kCloseWait;
}
}  // namespace

std::size_t TcpStack::send(Instant now, ConnId conn, std::span<const std::uint8_t> data) {
    Impl& m = *impl_;
    m.last_now_ = std::max(m.last_now_, now);
    Tcb* t = m.get_owned(conn);
    if (!t || t->write_closed || !can_send_state(t->state)) return 0;
    m.memory_prepare_send(*t);
    const std::size_t room = m.memory_send_room(*t);
    if (room < std::min(data.size(), t->send_buf.free())) m.counters.inc(Counter::memory_send_limited);
    const std::size_t n = t->send_buf.write(data.first(std::min(data.size(), room)));
    if (n > 0) {
        m.recharge(conn.index);
        m.mark_dirty(conn.index);
    }
    return n;
}

std::size_t TcpStack::recv(Instant now, ConnId conn, std::span<std::uint8_t> data) {
    Impl& m = *impl_;
    m.last_now_ = std::max(m.last_now_, now);
    Tcb* t = m.get_owned(conn);
    if (!t) return 0;
    const std::size_t n = t->recv_buf.read(data);
    t->rcvq_copied += n;
    if (n > 0) m.autotune(now, conn.index);
    // The window update itself is decided in output() (receiver SWS rules).
    if (n > 0 && m.window_update_due(*t)) m.mark_dirty(conn.index);
    if (n > 0) m.note_active(conn.index, now);
    return n;
}

void TcpStack::shutdown_write(Instant now, ConnId conn) {
    Impl& m = *impl_;
    m.last_now_ = std::max(m.last_now_, now);
    Tcb* t = m.get_owned(conn);
    if (!t || t->write_closed) return;
    t->write_closed = true;
    // RFC 9293 3.10.4: FIN follows the queued data; the state changes now.
    switch (t->state) {
        case State::kEstablished: m.set_state(conn.index, State::kFinWait1); break;
        case State::kCloseWait: m.set_state(conn.index, State::kLastAck); break;
        default: break;  // SYN-SENT / SYN-RECEIVED: applied once established
    }
    m.mark_dirty(conn.index);
    m.notify(conn.index);
}

void TcpStack::close(Instant now, ConnId conn) {
    Impl& m = *impl_;
    m.last_now_ = std::max(m.last_now_, now);
    Tcb* t = m.get_owned(conn);
    if (!t) return;
    m.drop_events_for(conn);  // the handle is released: no event may name it any more
    const std::uint32_t index = conn.index;
    const bool synchronized = t->state != State::kClosed && t->state != State::kSynSent &&
                              t->state != State::kListen && t->state != State::kTimeWait;
    if (!t->recv_buf.empty() && synchronized) {
        // RFC 9293 3.10.4 / RFC 1122 4.2.2.13: data the application will
        // never read means the peer must not believe it was delivered.
        m.queue_abort_reset(*t);
        m.counters.inc(Counter::conn_aborted);
        t->app_owned = false;
        m.fail(index, Error::kAborted);
        m.release_if_done(index);
        return;
    }
    t->app_owned = false;
    t->orphaned = true;
    t->event_pending = false;
    if (t->state == State::kClosed || t->state == State::kSynSent) {
        // RFC 9293 3.10.4 SYN-SENT: delete the TCB.
        t->state = State::kClosed;
        m.release_if_done(index);
        return;
    }
    if (!t->write_closed) {
        t->write_closed = true;
        if (t->state == State::kEstablished) m.set_state(index, State::kFinWait1);
        else if (t->state == State::kCloseWait) m.set_state(index, State::kLastAck);
    }
    if (t->state == State::kFinWait2) {
        // Orphaned FIN-WAIT-2 must not last forever (Linux tcp_fin_timeout).
        m.arm(t->linger_deadline, now + 2 * t->cfg->msl);
    }
    m.mark_dirty(index);
    m.orphan_adopt(now, index);
    m.release_if_done(index);
    m.reschedule(index);
}

void TcpStack::abort(Instant now, ConnId conn) {
    Impl& m = *impl_;
    m.last_now_ = std::max(m.last_now_, now);
    Tcb* t = m.get_owned(conn);
    if (!t) return;
    m.drop_events_for(conn);
    switch (t->state) {
        case State::kSynReceived:
        case State::kEstablished:
        case State::kFinWait1:
        case State::kFinWait2:
        case State::kCloseWait:
        case State::kClosing:
        case State::kLastAck:
            // RFC 9293 3.10.5
            m.queue_abort_reset(*t);
            break;
        default: break;
    }
    m.counters.inc(Counter::conn_aborted);
    m.free_tcb(conn.index);
}

ConnInfo TcpStack::info(ConnId conn) const {
    const Impl& m = *impl_;
    const Tcb* t = m.get_owned(conn);
    ConnInfo i;
    if (!t) {
        i.error = Error::kNotConnected;
        return i;
    }
    i.state = t->state;
    i.error = t->error;
    i.local = t->local;
    i.remote = t->remote;
    i.recv_available = t->recv_buf.size();
    i.send_queued = t->send_buf.size();
    i.send_free = (!t->write_closed && can_send_state(t->state)) ? m.memory_send_room(*t) : 0;
    i.established = t->established_once;
    i.eof = t->fin_received && t->recv_buf.empty();
    i.write_closed = t->write_closed;
    i.memory = t->mem_charged;
    return i;
}

ConnStats TcpStack::stats(ConnId conn) const {
    const Impl& m = *impl_;
    const Tcb* t = m.get_owned(conn);
    ConnStats st;
    if (!t) return st;
    st.srtt = t->rtt.srtt();
    st.rttvar = t->rtt.rttvar();
    st.rto = t->rtt.rto();
    st.snd_mss = t->eff_mss();
    st.cwnd = t->cc ? t->cc->cwnd() : 0;
    st.ssthresh = t->cc ? t->cc->ssthresh() : 0;
    st.bytes_in_flight = t->recovery.bytes_in_flight(*t);
    st.snd_wnd = t->snd_wnd;
    st.rcv_wnd = t->rcv_wnd();
    st.rcv_buffer = static_cast<std::uint32_t>(t->recv_buf.capacity());
    st.bytes_sent = t->bytes_sent;
    st.bytes_acked = t->bytes_acked;
    st.bytes_received = t->bytes_received;
    st.segments_sent = t->segments_sent;
    st.segments_received = t->segments_received;
    st.retransmissions = t->retransmissions;
    st.rto_expiries = t->rto_expiries;
    st.fast_retransmits = t->fast_retransmits;
    st.sack_recoveries = t->sack_recoveries;
    st.dup_segments_received = t->dup_segments;
    st.ooo_segments_received = t->ooo_segments;
    st.paws_rejected = t->paws_rejected;
    st.timestamps = t->ts_ok;
    st.sack = t->sack_ok;
    st.window_scaling = t->wscale_ok;
    st.no_delay = t->nodelay;
    st.keepalive = t->keepalive;
    st.in_recovery = t->recovery.in_recovery();
    // A literal, so the view outlives the TCB and any set_config().
    st.congestion_control =
        t->cfg->congestion_control == "cubic" ? std::string_view("cubic") : std::string_view("newreno");
    return st;
}

void TcpStack::set_nodelay(ConnId conn, bool on) {
    Impl& m = *impl_;
    Tcb* t = m.get_owned(conn);
    if (!t) return;
    t->nodelay = on;
    if (on) m.mark_dirty(conn.index);  // queued short data may go now
}

void TcpStack::set_keepalive(ConnId conn, bool on) {
    Impl& m = *impl_;
    Tcb* t = m.get_owned(conn);
    if (!t) return;
    t->keepalive = on;
    t->keepalive_probes = 0;
    if (on && t->state != State::kClosed)
        m.arm(t->keepalive_deadline, m.last_now_ + t->cfg->keepalive_idle);
    else
        t->keepalive_deadline = kNever;
    m.reschedule(conn.index);
}

void TcpStack::receive(Instant now, const IpAddress& src, const IpAddress& dst, std::span<const std::uint8_t> segment) {
    receive(now, src, dst, segment, RxChecksum::kVerify);
}

void TcpStack::receive(Instant now, const IpAddress& src, const IpAddress& dst, std::span<const std::uint8_t> segment,
                       RxChecksum checksum) {
    Impl& m = *impl_;
    m.last_now_ = std::max(m.last_now_, now);
    m.counters.inc(Counter::rx_segments);
    wire::TcpRepr repr;
    if (const auto err = wire::TcpRepr::parse(segment, src, dst, repr, checksum == RxChecksum::kTrusted)) {
        switch (*err) {
            case wire::TcpRepr::ParseError::kTruncated: m.counters.inc(Counter::rx_truncated); break;
            case wire::TcpRepr::ParseError::kBadDataOffset: m.counters.inc(Counter::rx_bad_offset); break;
            case wire::TcpRepr::ParseError::kBadChecksum: m.counters.inc(Counter::rx_bad_checksum); break;
        }
        return;
    }
    // IPv4: our one address. IPv6: the layer below delivers only what is
    // addressed to one of ours; a multicast destination (a group we joined)
    // or a family mix is never TCP's.
    if (dst.family() != src.family() || dst.is_multicast() ||
        (dst.is_ipv4() && dst != IpAddress(m.config.local_address))) {
        m.counters.inc(Counter::rx_not_our_address);
        return;
    }
    // An illegal option was skipped (or ended the list); the segment stays.
    if (repr.options.malformed) m.counters.inc(Counter::rx_malformed_options);
    m.armed_ = false;
    m.segment_arrives(now, src, dst, repr);
    if (m.armed_) {
        // A deadline set while the segment was processed (a delayed ACK,
        // keepalive, TIME-WAIT): the wheel entry follows now. Only that
        // TCB can have been armed; a TCB marked dirty is rescheduled again
        // after its output at poll().
        m.armed_ = false;
        m.reschedule(m.lookup(TupleKey{dst, src, repr.dst_port, repr.src_port}));
    }
}

void TcpStack::host_unreachable(Instant now, const IpAddress& dst) {
    Impl& m = *impl_;
    m.last_now_ = std::max(m.last_now_, now);
    for (std::uint32_t i = 0; i < m.tcbs.size(); ++i) {
        if (!m.tcbs[i]) continue;
        Tcb& t = *m.tcbs[i];
        if (t.state == State::kSynSent && t.remote.address == dst) {
            m.counters.inc(Counter::conn_unreachable);
            m.fail(i, Error::kHostUnreachable);
            m.release_if_done(i);
        }
    }
}

void TcpStack::icmp_error(Instant now, const IcmpErrorReport& report) {
    Impl& m = *impl_;
    m.last_now_ = std::max(m.last_now_, now);
    m.armed_ = false;
    m.icmp_error(now, report);
    m.armed_ = false;  // icmp_error() arms no deadline; output follows at poll()
}

void TcpStack::poll(Instant now) {
    Impl& m = *impl_;
    m.last_now_ = std::max(m.last_now_, now);
    m.flush_resets();
    // Only the TCBs with a deadline <= now (in deadline order across 1 ms
    // ticks), each once.
    m.wheel_.expire(now, m.due_);
    if (!m.due_.empty()) {
        for (const std::uint32_t i : m.due_) {
            if (i >= m.tcbs.size() || !m.tcbs[i]) continue;
            m.counters.inc(Counter::poll_timer_visits);
            m.run_timers(now, i);
            if (m.tcbs[i]) m.output(now, i);
            m.reschedule(i);
            m.note_active(i, now);
        }
        m.due_.clear();
    }
    // Then the TCBs with pending output. output() never marks another TCB
    // dirty, but loop until the list is empty anyway so nothing marked
    // during this poll waits for the next.
    while (!m.dirty_list.empty()) {
        std::vector<std::uint32_t>& list = m.dirty_work_;
        list.clear();
        list.swap(m.dirty_list);
        for (std::uint32_t i : list) {
            if (i >= m.tcbs.size() || !m.tcbs[i]) continue;
            m.tcbs[i]->dirty = false;
            m.counters.inc(Counter::poll_output_visits);
            m.output(now, i);
            m.reschedule(i);
            m.note_active(i, now);
        }
    }
    m.reclaim_buffers(now);
    m.armed_ = false;
    m.flush_resets();
    m.flush_cookie_synacks();
}

Instant TcpStack::poll_at() const {
    const Impl& m = *impl_;
    if (!m.dirty_list.empty() || !m.resets.empty() || !m.cookie_synacks_.empty()) return m.last_now_;
    return std::min(m.wheel_.next_wake(), m.reclaim_wheel_.next_wake());
}

void TcpStack::drain_events(std::vector<Event>& out) {
    Impl& m = *impl_;
    for (const Event& e : m.events) {
        if (e.kind == Event::Kind::kConnection) {
            if (Tcb* t = m.get(e.conn)) t->event_pending = false;
        } else if (Listener* l = m.get_listener(e.listener)) {
            l->event_pending = false;
        }
    }
    out.insert(out.end(), m.events.begin(), m.events.end());
    m.events.clear();
}

bool TcpStack::has_pending_events() const { return !impl_->events.empty(); }

void TcpStack::visit_metrics(const MetricVisitor& visit) const {
    impl_->counters.visit(visit);
    static constexpr MetricInfo kConnections{"tcp.connections", MetricKind::kGauge,
                                             "TCP connections alive in any state, TIME-WAIT included"};
    visit(kConnections, connection_count());
    static constexpr MetricInfo kMemory{"tcp.memory_bytes", MetricKind::kGauge,
                                        "Bytes of TCP buffers charged to the memory budget (tcp.memory_max)"};
    static constexpr MetricInfo kPressure{"tcp.memory_pressure", MetricKind::kGauge,
                                          "1 while the memory budget is under pressure, else 0"};
    static constexpr MetricInfo kOrphans{"tcp.orphans", MetricKind::kGauge,
                                         "Connections closed by their application that TCP still finishes"};
    visit(kMemory, impl_->budget_.usage());
    visit(kPressure, impl_->budget_.under_pressure() ? 1 : 0);
    visit(kOrphans, impl_->orphan_count_);
}

void TcpStack::visit_counters(const std::function<void(std::string_view, std::uint64_t)>& visit) const {
    visit_metrics([&visit](const MetricInfo& m, std::uint64_t value) { visit(m.name, value); });
}

std::size_t TcpStack::connection_count() const { return impl_->live_tcbs; }

std::uint64_t TcpStack::memory_in_use() const { return impl_->budget_.usage(); }

bool TcpStack::memory_pressure() const { return impl_->budget_.under_pressure(); }

std::size_t TcpStack::orphans_sending() const {
    const Impl& m = *impl_;
    std::size_t n = 0;
    for (const auto& t : m.tcbs) {
        // Our FIN follows every queued byte: until it is acknowledged, some
        // of the data or the FIN itself may still need to be sent again.
        if (t && t->orphaned &&
            (t->state == State::kFinWait1 || t->state == State::kClosing || t->state == State::kLastAck))
            ++n;
    }
    return n;
}

void TcpStack::abort_orphans(Instant now) {
    Impl& m = *impl_;
    m.last_now_ = std::max(m.last_now_, now);
    for (std::uint32_t i = 0; i < m.tcbs.size(); ++i) {
        if (!m.tcbs[i] || !m.tcbs[i]->orphaned) continue;
        Tcb& t = *m.tcbs[i];
        if (t.state == State::kClosed || t.state == State::kTimeWait) continue;
        m.queue_abort_reset(t);
        m.counters.inc(Counter::conn_aborted);
        m.fail(i, Error::kAborted);
        m.release_if_done(i);
    }
}

}  // namespace tapstack::tcp
