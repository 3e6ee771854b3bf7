/**
 * Prometheus metrics (prom-client). One registry per server instance so that
 * several nodes in one test process do not share counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly connections = new Gauge({ name: 'parley_connections', help: 'Open WebSocket connections', registers: [this.registry] });
  readonly connectionsTotal = new Counter({ name: 'parley_connections_total', help: 'WebSocket connections accepted', registers: [this.registry] });
  readonly joins = new Counter({ name: 'parley_joins_total', help: 'Room joins', registers: [this.registry] });
  readonly messagesIn = new Counter({ name: 'parley_messages_in_total', help: 'Messages stored from this node', registers: [this.registry] });
  readonly messagesOut = new Counter({ name: 'parley_messages_out_total', help: 'Message events written to local connections', registers: [this.registry] });
  readonly fanoutSeconds = new Histogram({
    name: 'parley_fanout_seconds',
    help: 'Time to write one bus event to all local members of a room',
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
    registers: [this.registry],
  });
  readonly presenceEvents = new Counter({ name: 'parley_presence_events_total', help: 'Presence events published', labelNames: ['event'] as const, registers: [this.registry] });
  readonly limitBreaches = new Counter({ name: 'parley_limit_breaches_total', help: 'Requests refused or connections closed by a limit', labelNames: ['limit'] as const, registers: [this.registry] });
  readonly slowConsumers = new Counter({ name: 'parley_slow_consumer_closes_total', help: 'Connections closed with 4008', registers: [this.registry] });
  readonly commandErrors = new Counter({ name: 'parley_command_errors_total', help: 'Commands answered with an error', labelNames: ['code'] as const, registers: [this.registry] });

  constructor(collectProcess = true) {
    if (collectProcess) collectDefaultMetrics({ register: this.registry });
  }
}
