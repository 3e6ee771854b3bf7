/** The bench command line: options, defaults, --quick and the help text. */
import type { SystemKind } from './clients.js';
import type { Deployment } from './redis.js';

/** Everything the command line sets. */
export interface Options {
  quick: boolean;
  runs: number;
  systems: SystemKind[];
  connections: number;
  rooms: number;
  rate: number;
  warmupMs: number;
  measureMs: number;
  textBytes: number;
  sweep: boolean;
  sweepRates: number[];
  sweepWarmupMs: number;
  sweepMeasureMs: number;
  /** The main load again with rooms of `bigRoomSize` members (issue 20: <= 1.0 x relay there). */
  bigRooms: boolean;
  bigRoomSize: number;
  /** The capacity sweep again at `sweepSmallConnections` (rooms of the main load's size). */
  sweepSmall: boolean;
  sweepSmallConnections: number;
  idle: boolean;
  idleConnections: number;
  idleRoomSize: number;
  presence: boolean;
  kill: boolean;
  history: boolean;
  profile: boolean;
  out: string | null;
  /** Which Redis the Parley nodes use: one redis-server, or a 3-shard cluster. */
  deployment: Deployment;
  /** PARLEY_ACK_REPLICAS of the Parley nodes (needs replicas: the cluster deployment has one per shard). */
  ackReplicas: number;
  /** The soak (--only soak): minutes, and the PARLEY_HISTORY_MAX of its nodes. */
  soakMinutes: number;
  soakHistoryMax: number;
  /** --only: the parts to run (empty: the default set). */
  only: Set<string>;
}

export const HELP = `npm run bench -- [options]
  --quick                 small load, each system once, asserts no loss/dup/reorder (< 30 s)
  --runs N                runs of the main load per system, interleaved; medians reported (default 1)
  --systems a,b           parley,socketio,relay,parleysio (default: the first three)
  --connections N         default 2000 (split over both nodes)
  --rooms N               default 50 (members per room = connections / rooms)
  --rate N                messages per second per room (default 10)
  --warmup S / --duration S   seconds (default 2 / 10)
  --text-bytes N          default 100
  --no-sweep | --sweep-rates 10,15,20,30,40,60,80,120,160,240,320  (--sweep-warmup S, --sweep-duration S: 1 / 4)
  --no-big-rooms | --big-room-size N   the main load again with rooms of N members (default 200)
  --no-sweep-small | --sweep-small-connections N   the sweep again at N connections (default 1000)
  --no-idle | --idle-connections N (default 5000) | --idle-room-size N (default 40)
  --no-presence | --no-kill | --no-history
  --only main|profile|bigrooms|sweep|sweepsmall|idle|presence|kill|history|soak   run just that part (repeatable; soak runs only when asked)
  --soak-minutes N        soak length (default 20); --soak-history-max N  PARLEY_HISTORY_MAX of its nodes (default 1000)
  --profile               one extra profiled run per system: .cpuprofile of every node in bench/results/profiles/
                          (and a .heapsnapshot of each system's idle node, first run)
  --out FILE              JSON result path (default bench/results/bench-<time>.json)
  --deployment single|cluster   Parley on one redis-server (default) or a 3-shard Redis Cluster
                          (3 masters + 3 replicas; Parley only); Redis CPU counts every redis-server
  --ack-replicas N        PARLEY_ACK_REPLICAS for the Parley nodes (default 0; use with --deployment cluster)`;

/** Parses the bench command line (throws on an unknown option or a bad value; --help prints and exits). */
export function parseArgs(argv: string[]): Options {
  const o: Options = {
    quick: false,
    runs: 1,
    systems: ['parley', 'socketio', 'relay'],
    connections: 2000,
    rooms: 50,
    rate: 10,
    warmupMs: 2000,
    measureMs: 10_000,
    textBytes: 100,
    sweep: true,
    sweepRates: [10, 15, 20, 30, 40, 60, 80, 120, 160, 240, 320],
    sweepWarmupMs: 1000,
    sweepMeasureMs: 4000,
    bigRooms: true,
    bigRoomSize: 200,
    sweepSmall: true,
    sweepSmallConnections: 1000,
    idle: true,
    idleConnections: 5000,
    idleRoomSize: 40,
    presence: true,
    kill: true,
    history: true,
    profile: false,
    out: null,
    deployment: 'single',
    ackReplicas: 0,
    soakMinutes: 20,
    soakHistoryMax: 1000,
    only: new Set(),
  };
  const num = (v: string | undefined, name: string): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const v = (): string | undefined => argv[++i];
    switch (a) {
      case '--quick':
        o.quick = true;
        break;
      case '--runs':
        o.runs = Math.floor(num(v(), a));
        break;
      case '--systems':
        o.systems = (v() ?? '').split(',').map((s) => {
          if (s !== 'parley' && s !== 'socketio' && s !== 'relay' && s !== 'parleysio')
            throw new Error(`unknown system ${s}`);
          return s;
        });
        break;
      case '--connections':
        o.connections = Math.floor(num(v(), a));
        break;
      case '--rooms':
        o.rooms = Math.floor(num(v(), a));
        break;
      case '--rate':
        o.rate = num(v(), a);
        break;
      case '--warmup':
        o.warmupMs = num(v(), a) * 1000;
        break;
      case '--duration':
        o.measureMs = num(v(), a) * 1000;
        break;
      case '--text-bytes':
        o.textBytes = Math.floor(num(v(), a));
        break;
      case '--no-sweep':
        o.sweep = false;
        break;
      case '--sweep-rates':
        o.sweepRates = (v() ?? '').split(',').map((s) => num(s, a));
        break;
      case '--sweep-warmup':
        o.sweepWarmupMs = num(v(), a) * 1000;
        break;
      case '--sweep-duration':
        o.sweepMeasureMs = num(v(), a) * 1000;
        break;
      case '--no-big-rooms':
        o.bigRooms = false;
        break;
      case '--big-room-size':
        o.bigRoomSize = Math.floor(num(v(), a));
        break;
      case '--no-sweep-small':
        o.sweepSmall = false;
        break;
      case '--sweep-small-connections':
        o.sweepSmallConnections = Math.floor(num(v(), a));
        break;
      case '--no-idle':
        o.idle = false;
        break;
      case '--idle-room-size':
        o.idleRoomSize = Math.floor(num(v(), a));
        break;
      case '--idle-connections':
        o.idleConnections = Math.floor(num(v(), a));
        break;
      case '--no-presence':
        o.presence = false;
        break;
      case '--no-kill':
        o.kill = false;
        break;
      case '--no-history':
        o.history = false;
        break;
      case '--only':
        o.only.add(v() ?? '');
        break;
      case '--profile':
        o.profile = true;
        break;
      case '--out':
        o.out = v() ?? null;
        break;
      case '--deployment': {
        const d = v();
        if (d !== 'single' && d !== 'cluster') throw new Error('--deployment is single or cluster');
        o.deployment = d;
        break;
      }
      case '--ack-replicas':
        o.ackReplicas = Math.floor(Number(v()));
        if (!Number.isInteger(o.ackReplicas) || o.ackReplicas < 0)
          throw new Error('--ack-replicas needs an integer >= 0');
        break;
      case '--soak-minutes':
        o.soakMinutes = num(v(), a);
        break;
      case '--soak-history-max':
        o.soakHistoryMax = Math.floor(num(v(), a));
        break;
      case '--help':
      case '-h':
        console.log(HELP);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a}\n${HELP}`);
    }
  }
  if (o.quick) {
    Object.assign(o, {
      runs: 1,
      connections: 200,
      rooms: 10,
      rate: 10,
      warmupMs: 500,
      measureMs: 2000,
      sweep: false,
      bigRooms: false,
      sweepSmall: false,
      idle: false,
      presence: false,
      kill: false,
      history: false,
      profile: false,
    });
  }
  return o;
}
