package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/engine/relay"
)

// Collector is a prometheus.Collector over an engine's counters and,
// when given, a relay Proxy's and its Pools'. Make it with New and
// register it, or serve it with Handler or Serve.
type Collector struct {
	eng   *engine.Engine
	proxy *relay.Proxy
	pools []namedPool
	d     descs
}

type namedPool struct {
	name string
	pool *relay.Pool
}

// Option configures a Collector in New.
type Option func(*Collector)

// WithProxy adds a relay Proxy's counters (pairs, clients, bytes relayed).
func WithProxy(px *relay.Proxy) Option { return func(c *Collector) { c.proxy = px } }

// WithPool adds a relay Pool's per-backend metrics, labelled pool=name
// and backend=its address. Repeat it for each pool.
func WithPool(name string, p *relay.Pool) Option {
	return func(c *Collector) { c.pools = append(c.pools, namedPool{name, p}) }
}

// New returns a Collector over e's counters.
func New(e *engine.Engine, opts ...Option) *Collector {
	c := &Collector{eng: e, d: newDescs()}
	for _, o := range opts {
		o(c)
	}
	return c
}

// descs are the metrics' descriptions, made once per Collector.
type descs struct {
	conns, opened, closed, bytesIn, bytesOut, queued, panics, tasksQueued,
	iterations, busy, round, lag, tasksRun, refused, proxyFailed, rateWaits,
	tlsHandshakes, tlsFailed, tlsRefused *prometheus.Desc
	tlsHandshakeCPU, tlsDeferred *prometheus.Desc

	pairs, clients, relayed, noBackend, retries, relayedBytes, spliced *prometheus.Desc

	beConns, beHealthy, beEjected, beConnectErrors, beEjections, beChecks,
	beCheckFails, beBytes *prometheus.Desc

	udpDatagrams, udpBytes, udpDrops, udpSendWaits, udpSocketErrors, udpGSOSends,
	udpGROBatches, udpPanics, udpSessions, udpSessionEvents *prometheus.Desc
}

func newDescs() descs {
	shard := []string{"shard"}
	be := []string{"pool", "backend"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc("shardnet_"+name, help, labels, nil)
	}
	return descs{
		conns:           d("shard_connections", "Connections open on the shard now.", shard),
		opened:          d("shard_connections_opened_total", "Connections the shard opened: accepted, dialed or enrolled.", shard),
		closed:          d("shard_connections_closed_total", "Connections the shard closed.", shard),
		bytesIn:         d("shard_received_bytes_total", "Bytes the shard read from its connections.", shard),
		bytesOut:        d("shard_sent_bytes_total", "Bytes the shard wrote to its connections.", shard),
		queued:          d("shard_queued_output_bytes", "Output queued in the shard's connections, waiting for their sockets.", shard),
		panics:          d("shard_handler_panics_total", "Handler panics that aborted a connection.", shard),
		tasksQueued:     d("shard_tasks_queued", "Tasks waiting in the shard's queue.", shard),
		iterations:      d("shard_loop_iterations_total", "Rounds of the shard's event loop.", shard),
		busy:            d("shard_busy_seconds_total", "Time the shard's loop spent working rather than waiting for events.", shard),
		round:           d("shard_round_running_seconds", "How long the loop's round in progress has run at scrape time (0 while it waits): a large value means a handler blocks the shard now.", shard),
		lag:             d("shard_loop_lag_seconds", "How late a timer due on the shard ran, sampled on the shard's own timer (engine.WithLagSampling; shardnet's -metrics samples every 50 ms): what an event arriving then waited for the loop. Samples under about 1 ms are epoll_wait's resolution, not work.", shard),
		tasksRun:        d("shard_tasks_run_total", "Tasks the shard's loop ran: connection hand-offs, AsyncWrite batches, Handle.Do and the engine's own.", shard),
		refused:         d("connections_refused_total", "Connections closed at once on accept: over the connection limit, or out of file descriptors.", nil),
		rateWaits:       d("shard_rate_limit_waits_total", "Times a rate-limited connection waited for the next tick because a token bucket was empty, by direction: read (reading stopped) or write (flush held).", []string{"shard", "direction"}),
		tlsHandshakes:   d("tls_handshakes_total", "TLS handshakes completed: the connection opened to its handler.", nil),
		tlsFailed:       d("tls_handshake_failures_total", "TLS connections closed before their handshake was done: handshake errors, timeouts, refusals, resets.", nil),
		tlsRefused:      d("tls_handshakes_refused_total", "TLS connections refused at accept: the cap on handshakes in progress was reached, or the handshake backlog waited too long (also counted as failures).", nil),
		tlsHandshakeCPU: d("tls_handshake_cpu_seconds_total", "Time TLS handshakes held their CPU slots, computing (what WithHandshakeShare budgets).", nil),
		tlsDeferred:     d("tls_handshakes_deferred_total", "TLS handshakes held back by the handshake CPU share while a slot was free.", nil),
		proxyFailed:     d("connections_proxy_header_failed_total", "Connections of PROXY protocol listeners closed before their header was read: missing, malformed, too slow, or cut short.", nil),

		pairs:        d("proxy_pairs", "Client-backend pairs open now.", nil),
		clients:      d("proxy_clients_total", "Clients the proxy accepted.", nil),
		relayed:      d("proxy_clients_relayed_total", "Clients that got a backend.", nil),
		noBackend:    d("proxy_clients_no_backend_total", "Clients closed because no backend answered.", nil),
		retries:      d("proxy_connect_retries_total", "Backend connects tried after a failed one, for the same client.", nil),
		relayedBytes: d("proxy_relayed_bytes_total", "Bytes relayed, by direction: up (client to backend) or down.", []string{"direction"}),
		spliced:      d("proxy_spliced_bytes_total", "Of the relayed bytes, those moved with splice(2).", nil),

		beConns:         d("proxy_backend_connections", "Pairs relaying to the backend or connecting to it now.", be),
		beHealthy:       d("proxy_backend_healthy", "1 if health checks keep the backend in rotation, else 0.", be),
		beEjected:       d("proxy_backend_ejected", "1 if the backend is skipped now after connect errors, else 0.", be),
		beConnectErrors: d("proxy_backend_connect_errors_total", "Failed connects to the backend for clients.", be),
		beEjections:     d("proxy_backend_ejections_total", "Times the backend was ejected after connect errors.", be),
		beChecks:        d("proxy_backend_health_checks_total", "Health checks run on the backend.", be),
		beCheckFails:    d("proxy_backend_health_check_failures_total", "Health checks of the backend that failed.", be),
		beBytes:         d("proxy_backend_relayed_bytes_total", "Bytes relayed to (up) and from (down) the backend by pairs that have ended.", []string{"pool", "backend", "direction"}),

		udpDatagrams:     d("shard_udp_datagrams_total", "Datagrams the shard's UDP sockets read (in) and the kernel took (out); GRO runs counted per datagram.", []string{"shard", "direction"}),
		udpBytes:         d("shard_udp_bytes_total", "Payload bytes of those datagrams, by direction.", []string{"shard", "direction"}),
		udpDrops:         d("shard_udp_dropped_datagrams_total", "Datagrams lost on the shard, by reason: queue (a socket's send queue at its bound, or queued at close), send_error (refused by the kernel), rcvbuf (the kernel's receive buffer was full, SO_RXQ_OVFL; with GRO one per coalesced packet), truncated (larger than a receive slot).", []string{"shard", "reason"}),
		udpSendWaits:     d("shard_udp_send_waits_total", "Times a UDP socket's send buffer was full and its queue waited for EPOLLOUT.", shard),
		udpSocketErrors:  d("shard_udp_socket_errors_total", "Errors the shard's UDP sockets reported (ICMP errors on connected sockets, failed sends).", shard),
		udpGSOSends:      d("shard_udp_gso_sends_total", "Messages that carried several datagrams with UDP segmentation offload.", shard),
		udpGROBatches:    d("shard_udp_gro_batches_total", "Received runs of datagrams the kernel had coalesced (UDP GRO).", shard),
		udpPanics:        d("shard_udp_handler_panics_total", "Panics in datagram callbacks (each dropped that datagram or callback only).", shard),
		udpSessions:      d("shard_udp_sessions", "Live UDP sessions on the shard.", shard),
		udpSessionEvents: d("shard_udp_sessions_total", "UDP sessions by event: opened, expired (idle timeout), refused (at the cap or by the handler).", []string{"shard", "event"}),
	}
}

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	d := &c.d
	for _, x := range []*prometheus.Desc{d.conns, d.opened, d.closed, d.bytesIn, d.bytesOut, d.queued, d.panics,
		d.tasksQueued, d.iterations, d.busy, d.round, d.lag, d.tasksRun, d.refused, d.proxyFailed, d.rateWaits,
		d.tlsHandshakes, d.tlsFailed, d.tlsRefused, d.tlsHandshakeCPU, d.tlsDeferred} {
		ch <- x
	}
	for _, x := range []*prometheus.Desc{d.udpDatagrams, d.udpBytes, d.udpDrops, d.udpSendWaits, d.udpSocketErrors,
		d.udpGSOSends, d.udpGROBatches, d.udpPanics, d.udpSessions, d.udpSessionEvents} {
		ch <- x
	}
	if c.proxy != nil {
		for _, x := range []*prometheus.Desc{d.pairs, d.clients, d.relayed, d.noBackend, d.retries, d.relayedBytes, d.spliced} {
			ch <- x
		}
	}
	if len(c.pools) > 0 {
		for _, x := range []*prometheus.Desc{d.beConns, d.beHealthy, d.beEjected, d.beConnectErrors, d.beEjections,
			d.beChecks, d.beCheckFails, d.beBytes} {
			ch <- x
		}
	}
}

// Collect reads the counters now and sends them as metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	d := &c.d
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	counter := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v, labels...)
	}
	st := c.eng.Stats()
	for _, s := range st.Shards {
		i := strconv.Itoa(s.Shard)
		gauge(d.conns, float64(s.Conns), i)
		counter(d.opened, float64(s.Opened), i)
		counter(d.closed, float64(s.Closed), i)
		counter(d.bytesIn, float64(s.BytesIn), i)
		counter(d.bytesOut, float64(s.BytesOut), i)
		gauge(d.queued, float64(s.QueuedBytes), i)
		counter(d.panics, float64(s.Panics), i)
		gauge(d.tasksQueued, float64(s.TasksQueued), i)
		counter(d.iterations, float64(s.Iterations), i)
		counter(d.busy, s.Busy.Seconds(), i)
		gauge(d.round, s.Lag.Seconds(), i)
		ch <- lagHistogram(d.lag, s.LagSamples, i)
		counter(d.tasksRun, float64(s.TasksRun), i)
		counter(d.rateWaits, float64(s.RateWaitsRead), i, "read")
		counter(d.rateWaits, float64(s.RateWaitsWrite), i, "write")
		c.collectPackets(ch, s.Packets, i)
	}
	counter(d.refused, float64(st.Refused))
	counter(d.proxyFailed, float64(st.ProxyFailed))
	counter(d.tlsHandshakes, float64(st.TLSHandshakes))
	counter(d.tlsFailed, float64(st.TLSFailed))
	counter(d.tlsRefused, float64(st.TLSRefused))
	counter(d.tlsHandshakeCPU, st.TLSHandshakeCPU.Seconds())
	counter(d.tlsDeferred, float64(st.TLSHandshakesDeferred))
	if c.proxy != nil {
		ps := c.proxy.Stats()
		gauge(d.pairs, float64(ps.Active))
		counter(d.clients, float64(ps.Clients))
		counter(d.relayed, float64(ps.Relayed))
		counter(d.noBackend, float64(ps.NoBackend))
		counter(d.retries, float64(ps.Retries))
		counter(d.relayedBytes, float64(ps.BytesUp), "up")
		counter(d.relayedBytes, float64(ps.BytesDown), "down")
		counter(d.spliced, float64(ps.Spliced))
	}
	for _, np := range c.pools {
		for _, b := range np.pool.Stats() {
			gauge(d.beConns, float64(b.Active), np.name, b.Addr)
			gauge(d.beHealthy, b01(b.Healthy), np.name, b.Addr)
			gauge(d.beEjected, b01(b.Ejected), np.name, b.Addr)
			counter(d.beConnectErrors, float64(b.ConnectErrors), np.name, b.Addr)
			counter(d.beEjections, float64(b.Ejections), np.name, b.Addr)
			counter(d.beChecks, float64(b.Checks), np.name, b.Addr)
			counter(d.beCheckFails, float64(b.CheckFails), np.name, b.Addr)
			counter(d.beBytes, float64(b.BytesUp), np.name, b.Addr, "up")
			counter(d.beBytes, float64(b.BytesDown), np.name, b.Addr, "down")
		}
	}
}

// collectPackets sends a shard's datagram counters.
func (c *Collector) collectPackets(ch chan<- prometheus.Metric, p engine.PacketStats, shard string) {
	d := &c.d
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	counter(d.udpDatagrams, p.DatagramsIn, shard, "in")
	counter(d.udpDatagrams, p.DatagramsOut, shard, "out")
	counter(d.udpBytes, p.BytesIn, shard, "in")
	counter(d.udpBytes, p.BytesOut, shard, "out")
	counter(d.udpDrops, p.QueueDrops, shard, "queue")
	counter(d.udpDrops, p.SendErrors, shard, "send_error")
	counter(d.udpDrops, p.RcvbufDrops, shard, "rcvbuf")
	counter(d.udpDrops, p.Truncated, shard, "truncated")
	counter(d.udpSendWaits, p.SendWaits, shard)
	counter(d.udpSocketErrors, p.SocketErrors, shard)
	counter(d.udpGSOSends, p.GSOSends, shard)
	counter(d.udpGROBatches, p.GROBatches, shard)
	counter(d.udpPanics, p.Panics, shard)
	ch <- prometheus.MustNewConstMetric(d.udpSessions, prometheus.GaugeValue, float64(p.Sessions), shard)
	counter(d.udpSessionEvents, p.SessionsOpened, shard, "opened")
	counter(d.udpSessionEvents, p.SessionsExpired, shard, "expired")
	counter(d.udpSessionEvents, p.SessionsRefused, shard, "refused")
}

// lagHistogram turns a shard's lag samples into a Prometheus histogram:
// cumulative buckets keyed by their bounds in seconds (the engine's
// counts are per bucket), the overflow bucket being +Inf, which Prometheus
// adds from the count.
func lagHistogram(desc *prometheus.Desc, h engine.LagHistogram, shard string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	cum := uint64(0)
	for i, b := range h.Bounds {
		cum += h.Counts[i]
		buckets[b.Seconds()] = cum
	}
	return prometheus.MustNewConstHistogram(desc, h.Count, h.Sum.Seconds(), buckets, shard)
}

func b01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
