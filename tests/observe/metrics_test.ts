import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CommandName,
  Metrics,
  REFUSAL_REASONS,
  type RefusalReason,
} from "../../src/observe/metrics.ts";

// The whole exposition of a fresh registry: every family, at zero.
const FRESH =
  `# HELP edgesocks_connections_accepted_total Client connections accepted and served.
# TYPE edgesocks_connections_accepted_total counter
edgesocks_connections_accepted_total 0
# HELP edgesocks_connections_active Client connections open now, in their handshake or relaying.
# TYPE edgesocks_connections_active gauge
edgesocks_connections_active 0
# HELP edgesocks_connections_refused_total Clients refused, by reason: closed right after accept, or answered 01 when a per-user limit stops their request.
# TYPE edgesocks_connections_refused_total counter
edgesocks_connections_refused_total{reason="closing"} 0
edgesocks_connections_refused_total{reason="descriptors"} 0
edgesocks_connections_refused_total{reason="limit"} 0
edgesocks_connections_refused_total{reason="pending_evicted"} 0
edgesocks_connections_refused_total{reason="pending_full"} 0
edgesocks_connections_refused_total{reason="pending_per_client"} 0
edgesocks_connections_refused_total{reason="rule"} 0
edgesocks_connections_refused_total{reason="throttled"} 0
# HELP edgesocks_accept_errors_total Failed accepts on the listeners, by error code (EMFILE, ENFILE, other).
# TYPE edgesocks_accept_errors_total counter
edgesocks_accept_errors_total{code="EMFILE"} 0
edgesocks_accept_errors_total{code="ENFILE"} 0
edgesocks_accept_errors_total{code="other"} 0
# HELP edgesocks_handshakes_failed_total SOCKS handshakes that failed, by reason.
# TYPE edgesocks_handshakes_failed_total counter
edgesocks_handshakes_failed_total{reason="auth_failed"} 0
edgesocks_handshakes_failed_total{reason="no_acceptable_method"} 0
edgesocks_handshakes_failed_total{reason="protocol_error"} 0
edgesocks_handshakes_failed_total{reason="proxy_header"} 0
edgesocks_handshakes_failed_total{reason="socks4"} 0
edgesocks_handshakes_failed_total{reason="timeout"} 0
# HELP edgesocks_auth_failures_total Username/password logins rejected.
# TYPE edgesocks_auth_failures_total counter
edgesocks_auth_failures_total 0
# HELP edgesocks_logins_throttled_total Logins refused by the login throttle.
# TYPE edgesocks_logins_throttled_total counter
edgesocks_logins_throttled_total 0
# HELP edgesocks_replies_total SOCKS replies sent, by command and reply code in hex.
# TYPE edgesocks_replies_total counter
# HELP edgesocks_bytes_total Bytes relayed: up from clients, down to clients.
# TYPE edgesocks_bytes_total counter
edgesocks_bytes_total{direction="down"} 0
edgesocks_bytes_total{direction="up"} 0
# HELP edgesocks_tunnels_total Tunnels opened, by command.
# TYPE edgesocks_tunnels_total counter
edgesocks_tunnels_total{command="bind"} 0
edgesocks_tunnels_total{command="connect"} 0
edgesocks_tunnels_total{command="udp"} 0
# HELP edgesocks_tunnels_active Tunnels open now, by command.
# TYPE edgesocks_tunnels_active gauge
edgesocks_tunnels_active{command="bind"} 0
edgesocks_tunnels_active{command="connect"} 0
edgesocks_tunnels_active{command="udp"} 0
# HELP edgesocks_udp_datagrams_total UDP datagrams relayed up from clients, down to clients, or dropped.
# TYPE edgesocks_udp_datagrams_total counter
edgesocks_udp_datagrams_total{direction="down"} 0
edgesocks_udp_datagrams_total{direction="dropped"} 0
edgesocks_udp_datagrams_total{direction="up"} 0
# HELP edgesocks_dns_lookup_duration_seconds Time taken to resolve destination names, failed lookups included.
# TYPE edgesocks_dns_lookup_duration_seconds histogram
edgesocks_dns_lookup_duration_seconds_bucket{le="0.001"} 0
edgesocks_dns_lookup_duration_seconds_bucket{le="0.005"} 0
edgesocks_dns_lookup_duration_seconds_bucket{le="0.01"} 0
edgesocks_dns_lookup_duration_seconds_bucket{le="0.025"} 0
edgesocks_dns_lookup_duration_seconds_bucket{le="0.05"} 0
edgesocks_dns_lookup_duration_seconds_bucket{le="0.1"} 0
edgesocks_dns_lookup_duration_seconds_bucket{le="0.25"} 0
edgesocks_dns_lookup_duration_seconds_bucket{le="0.5"} 0
edgesocks_dns_lookup_duration_seconds_bucket{le="1"} 0
edgesocks_dns_lookup_duration_seconds_bucket{le="2.5"} 0
edgesocks_dns_lookup_duration_seconds_bucket{le="5"} 0
edgesocks_dns_lookup_duration_seconds_bucket{le="10"} 0
edgesocks_dns_lookup_duration_seconds_bucket{le="+Inf"} 0
edgesocks_dns_lookup_duration_seconds_sum 0
edgesocks_dns_lookup_duration_seconds_count 0
# HELP edgesocks_dns_lookup_failures_total Destination name lookups that failed.
# TYPE edgesocks_dns_lookup_failures_total counter
edgesocks_dns_lookup_failures_total 0
# HELP edgesocks_log_lines_dropped_total Log lines dropped because the log output fell too far behind.
# TYPE edgesocks_log_lines_dropped_total counter
edgesocks_log_lines_dropped_total 0
`;

// The sample lines (not comments) of `family`: those whose metric name is
// the family's name or, for a histogram, its _bucket/_sum/_count.
function samples(metrics: Metrics, family: string): string[] {
  const name = `edgesocks_${family}`;
  return metrics.render().split("\n").filter((line) =>
    new RegExp(`^${name}(_bucket|_sum|_count)?[{ ]`).test(line)
  );
}

// Prometheus text format 0.0.4, as far as this registry uses it.
const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const SAMPLE = new RegExp(
  `^(${NAME})(\\{${LABEL}(?:,${LABEL})*\\})? ([-+]?(?:[0-9.e+-]+|Inf)|NaN)$`,
);
const COMMENT = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`);

interface Exposition {
  types: Map<string, string>;
  helps: Map<string, string>;
  values: Map<string, number>;
}

// Parses the exposition line by line, throwing on any line that is not a
// HELP, a TYPE or a sample of a family declared above it.
function parse(text: string): Exposition {
  assert.ok(text.endsWith("\n"), "the text ends with a newline");
  const exposition: Exposition = {
    types: new Map(),
    helps: new Map(),
    values: new Map(),
  };
  let family: string | null = null;
  for (const line of text.slice(0, -1).split("\n")) {
    const comment = COMMENT.exec(line);
    if (comment !== null) {
      const [, kind, name, rest] = comment as unknown as string[];
      const seen = kind === "HELP" ? exposition.helps : exposition.types;
      assert.ok(!seen.has(name!), `one ${kind} for ${name}`);
      seen.set(name!, rest!);
      if (kind === "TYPE") {
        assert.match(rest!, /^(counter|gauge|histogram)$/, line);
        assert.ok(exposition.helps.has(name!), `HELP before TYPE: ${line}`);
      }
      family = name!;
      continue;
    }
    const sample = SAMPLE.exec(line);
    assert.ok(sample !== null, `not a sample line: ${JSON.stringify(line)}`);
    const [, name, labels = "", value] = sample as unknown as string[];
    const type = exposition.types.get(family ?? "");
    const suffixes = type === "histogram" ? ["_bucket", "_sum", "_count"] : [
      "",
    ];
    assert.ok(
      suffixes.some((suffix) => name === `${family}${suffix}`),
      `${name} belongs to the family above it (${family})`,
    );
    const key = `${name}${labels}`;
    assert.ok(!exposition.values.has(key), `one sample for ${key}`);
    exposition.values.set(
      key,
      value === "+Inf"
        ? Infinity
        : value === "-Inf"
        ? -Infinity
        : Number(value),
    );
  }
  return exposition;
}

describe("Metrics", () => {
  it("render() gives every family at zero from the start", () => {
    assert.equal(new Metrics().render(), FRESH);
  });

  it("render() output parses line by line", () => {
    const metrics = new Metrics();
    metrics.connectionAccepted();
    metrics.reply("connect", 0x05);
    metrics.reply("udp", 0x00);
    metrics.bytes({ up: 10, down: 20 });
    metrics.dnsLookup(0.3, true);
    metrics.connectionRefused('odd "reason"\n\\' as RefusalReason);
    const exposition = parse(metrics.render());
    assert.equal(exposition.types.size, 15);
    assert.equal(exposition.helps.size, 15);
    assert.equal(exposition.values.size, 52);
    assert.equal(
      exposition.values.get(
        'edgesocks_replies_total{command="connect",code="05"}',
      ),
      1,
    );
    assert.equal(
      exposition.values.get('edgesocks_bytes_total{direction="down"}'),
      20,
    );
    assert.equal(
      exposition.values.get(
        'edgesocks_dns_lookup_duration_seconds_bucket{le="+Inf"}',
      ),
      1,
    );
    // The parser is strict enough to fail.
    assert.throws(() => parse("edgesocks_x 1\n"), /belongs to the family/);
    assert.throws(() => parse("# TYPE a counter\na{b=c} 1\n"), /HELP before/);
    assert.throws(() => parse("# HELP a x\n# TYPE a counter\na 1 2\n"));
    assert.throws(() => parse(FRESH.slice(0, -1)), /ends with a newline/);
  });

  it("observeLog() reports the logger's dropped lines at each render", () => {
    const metrics = new Metrics();
    const log = { dropped: 0 };
    metrics.observeLog(log);
    assert.deepEqual(samples(metrics, "log_lines_dropped_total"), [
      "edgesocks_log_lines_dropped_total 0",
    ]);
    log.dropped = 7;
    assert.deepEqual(samples(metrics, "log_lines_dropped_total"), [
      "edgesocks_log_lines_dropped_total 7",
    ]);
  });

  it("connection events move the counters and the active gauge", () => {
    const metrics = new Metrics();
    metrics.connectionAccepted();
    metrics.connectionAccepted();
    metrics.connectionAccepted();
    metrics.connectionClosed();
    metrics.connectionRefused("limit");
    metrics.connectionRefused("limit");
    metrics.connectionRefused("closing");
    assert.deepEqual(samples(metrics, "connections_accepted_total"), [
      "edgesocks_connections_accepted_total 3",
    ]);
    assert.deepEqual(samples(metrics, "connections_active"), [
      "edgesocks_connections_active 2",
    ]);
    assert.deepEqual(samples(metrics, "connections_refused_total"), [
      'edgesocks_connections_refused_total{reason="closing"} 1',
      'edgesocks_connections_refused_total{reason="descriptors"} 0',
      'edgesocks_connections_refused_total{reason="limit"} 2',
      'edgesocks_connections_refused_total{reason="pending_evicted"} 0',
      'edgesocks_connections_refused_total{reason="pending_full"} 0',
      'edgesocks_connections_refused_total{reason="pending_per_client"} 0',
      'edgesocks_connections_refused_total{reason="rule"} 0',
      'edgesocks_connections_refused_total{reason="throttled"} 0',
    ]);
    assert.deepEqual(REFUSAL_REASONS, [
      "rule",
      "limit",
      "throttled",
      "closing",
      "pending_per_client",
      "pending_full",
      "pending_evicted",
      "descriptors",
    ]);
  });

  it("handshake and login events count by reason", () => {
    const metrics = new Metrics();
    metrics.handshakeFailed("timeout");
    metrics.handshakeFailed("auth_failed");
    metrics.handshakeFailed("auth_failed");
    metrics.handshakeFailed("socks4");
    metrics.handshakeFailed("proxy_header");
    metrics.authFailed();
    metrics.authFailed();
    metrics.loginThrottled();
    assert.deepEqual(samples(metrics, "handshakes_failed_total"), [
      'edgesocks_handshakes_failed_total{reason="auth_failed"} 2',
      'edgesocks_handshakes_failed_total{reason="no_acceptable_method"} 0',
      'edgesocks_handshakes_failed_total{reason="protocol_error"} 0',
      'edgesocks_handshakes_failed_total{reason="proxy_header"} 1',
      'edgesocks_handshakes_failed_total{reason="socks4"} 1',
      'edgesocks_handshakes_failed_total{reason="timeout"} 1',
    ]);
    assert.deepEqual(samples(metrics, "auth_failures_total"), [
      "edgesocks_auth_failures_total 2",
    ]);
    assert.deepEqual(samples(metrics, "logins_throttled_total"), [
      "edgesocks_logins_throttled_total 1",
    ]);
  });

  it("reply() labels the command and the code as two hex digits", () => {
    const metrics = new Metrics();
    metrics.reply("connect", 0x05);
    metrics.reply("connect", 0x00);
    metrics.reply("udp", 0x00);
    metrics.reply("connect", 0x05);
    metrics.reply("bind", 0x5b);
    metrics.reply("connect", 0x0a);
    assert.deepEqual(samples(metrics, "replies_total"), [
      'edgesocks_replies_total{command="bind",code="5b"} 1',
      'edgesocks_replies_total{command="connect",code="00"} 1',
      'edgesocks_replies_total{command="connect",code="05"} 2',
      'edgesocks_replies_total{command="connect",code="0a"} 1',
      'edgesocks_replies_total{command="udp",code="00"} 1',
    ]);
  });

  it("bytes() and datagrams() add up and ignore what cannot count", () => {
    const metrics = new Metrics();
    metrics.bytes({ up: 100 });
    metrics.bytes({ down: 4096 });
    metrics.bytes({ up: 23, down: 1 });
    metrics.bytes({ up: -5, down: NaN });
    metrics.bytes({ up: Infinity });
    metrics.bytes({});
    metrics.datagrams({ up: 1 });
    metrics.datagrams({ up: 2, down: 3, dropped: 4 });
    metrics.datagrams({ dropped: 1 });
    assert.deepEqual(samples(metrics, "bytes_total"), [
      'edgesocks_bytes_total{direction="down"} 4097',
      'edgesocks_bytes_total{direction="up"} 123',
    ]);
    assert.deepEqual(samples(metrics, "udp_datagrams_total"), [
      'edgesocks_udp_datagrams_total{direction="down"} 3',
      'edgesocks_udp_datagrams_total{direction="dropped"} 5',
      'edgesocks_udp_datagrams_total{direction="up"} 3',
    ]);
  });

  it("tunnelOpened() and tunnelClosed() count per command", () => {
    const metrics = new Metrics();
    const opened: CommandName[] = ["connect", "connect", "udp", "bind"];
    for (const command of opened) metrics.tunnelOpened(command);
    metrics.tunnelClosed("connect");
    metrics.tunnelClosed("bind");
    assert.deepEqual(samples(metrics, "tunnels_total"), [
      'edgesocks_tunnels_total{command="bind"} 1',
      'edgesocks_tunnels_total{command="connect"} 2',
      'edgesocks_tunnels_total{command="udp"} 1',
    ]);
    assert.deepEqual(samples(metrics, "tunnels_active"), [
      'edgesocks_tunnels_active{command="bind"} 0',
      'edgesocks_tunnels_active{command="connect"} 1',
      'edgesocks_tunnels_active{command="udp"} 1',
    ]);
  });

  it("dnsLookup() fills cumulative buckets, bounds inclusive", () => {
    const metrics = new Metrics();
    // Binary fractions, so the sum is exact.
    metrics.dnsLookup(0.0009765625, true); // 2^-10: under 0.001
    metrics.dnsLookup(0.25, true); // on a bound: counts in le="0.25"
    metrics.dnsLookup(0.5, false);
    metrics.dnsLookup(1, true);
    metrics.dnsLookup(8, false);
    metrics.dnsLookup(16, false); // above every bound: +Inf only
    metrics.dnsLookup(-3, true); // a clock step: 0
    assert.deepEqual(samples(metrics, "dns_lookup_duration_seconds"), [
      'edgesocks_dns_lookup_duration_seconds_bucket{le="0.001"} 2',
      'edgesocks_dns_lookup_duration_seconds_bucket{le="0.005"} 2',
      'edgesocks_dns_lookup_duration_seconds_bucket{le="0.01"} 2',
      'edgesocks_dns_lookup_duration_seconds_bucket{le="0.025"} 2',
      'edgesocks_dns_lookup_duration_seconds_bucket{le="0.05"} 2',
      'edgesocks_dns_lookup_duration_seconds_bucket{le="0.1"} 2',
      'edgesocks_dns_lookup_duration_seconds_bucket{le="0.25"} 3',
      'edgesocks_dns_lookup_duration_seconds_bucket{le="0.5"} 4',
      'edgesocks_dns_lookup_duration_seconds_bucket{le="1"} 5',
      'edgesocks_dns_lookup_duration_seconds_bucket{le="2.5"} 5',
      'edgesocks_dns_lookup_duration_seconds_bucket{le="5"} 5',
      'edgesocks_dns_lookup_duration_seconds_bucket{le="10"} 6',
      'edgesocks_dns_lookup_duration_seconds_bucket{le="+Inf"} 7',
      "edgesocks_dns_lookup_duration_seconds_sum 25.7509765625",
      "edgesocks_dns_lookup_duration_seconds_count 7",
    ]);
    assert.deepEqual(samples(metrics, "dns_lookup_failures_total"), [
      "edgesocks_dns_lookup_failures_total 3",
    ]);
  });

  it("dnsLookup() puts a time equal to the smallest bound in it", () => {
    const metrics = new Metrics();
    metrics.dnsLookup(0.001, true);
    metrics.dnsLookup(0.0010001, true);
    assert.deepEqual(
      samples(metrics, "dns_lookup_duration_seconds").slice(0, 2),
      [
        'edgesocks_dns_lookup_duration_seconds_bucket{le="0.001"} 1',
        'edgesocks_dns_lookup_duration_seconds_bucket{le="0.005"} 2',
      ],
    );
  });

  it("render() escapes backslash, quote and newline in label values", () => {
    const metrics = new Metrics();
    metrics.connectionRefused('a\\b"c\nd' as RefusalReason);
    metrics.reply('x"' as CommandName, 1);
    assert.deepEqual(
      samples(metrics, "connections_refused_total").filter((line) =>
        line.includes("a\\")
      ),
      ['edgesocks_connections_refused_total{reason="a\\\\b\\"c\\nd"} 1'],
    );
    assert.deepEqual(samples(metrics, "replies_total"), [
      'edgesocks_replies_total{command="x\\"",code="01"} 1',
    ]);
    // Escaped, the value stays on one line.
    assert.equal(
      metrics.render().split("\n").length,
      FRESH.split("\n").length + 2,
    );
  });

  it("render() does not depend on the order events came in", () => {
    const events: Array<(metrics: Metrics) => void> = [
      (m) => m.reply("udp", 0),
      (m) => m.reply("connect", 4),
      (m) => m.reply("bind", 0),
      (m) => m.connectionRefused("rule"),
      (m) => m.tunnelOpened("udp"),
      (m) => m.bytes({ up: 7 }),
    ];
    const forward = new Metrics();
    const backward = new Metrics();
    for (const event of events) event(forward);
    for (const event of [...events].reverse()) event(backward);
    assert.equal(forward.render(), backward.render());
    assert.deepEqual(samples(forward, "replies_total"), [
      'edgesocks_replies_total{command="bind",code="00"} 1',
      'edgesocks_replies_total{command="connect",code="04"} 1',
      'edgesocks_replies_total{command="udp",code="00"} 1',
    ]);
  });
});
