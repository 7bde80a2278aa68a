import { Option } from 'commander';

/**
 * The agent's options, one definition for the command line, the config file
 * (agent/config-file.ts: every key is an option's long name) and
 * `outpost agent install` (which writes them into the config file), so the
 * three cannot drift apart (DD-043).
 */
export interface AgentFlags {
  trust?: string;
  acceptUnsigned?: boolean;
  device?: string;
  broker?: string;
  stateDir?: string;
  secret?: string;
  secretFile?: string;
  ca?: string;
  cert?: string;
  key?: string;
  insecurePlaintext?: boolean;
  topicPrefix?: string;
  dockerSocket?: string;
  allowHostPath: string[];
  allowCapability: string[];
  allowVolume: string[];
  logLevel?: string;
  logFormat?: string;
  keepalive?: string;
  settleMs?: string;
  resyncInterval?: string;
  clockRefresh?: string;
  reconnectBaseMs?: string;
  reconnectCapMs?: string;
  watchdogSeconds?: string;
  retryBaseMs?: string;
  retryCapMs?: string;
  locksDir?: string;
  lockPollMs?: string;
  telemetryInterval?: string;
  telemetryDeltas?: string;
  eventDetail?: string;
  reportFormat?: string;
  profile?: string;
  reportDelayMs?: string;
}

/** Options whose value is a file or directory: relative paths in a config file are taken from the file's directory. */
export const AGENT_PATH_OPTIONS: ReadonlySet<string> = new Set(['state-dir', 'secret-file', 'ca', 'cert', 'key', 'trust', 'docker-socket', 'locks-dir']);

/** Options that never go into a config file: `--secret` is refused everywhere (DD-025). */
export const AGENT_OPTIONS_NOT_IN_FILE: ReadonlySet<string> = new Set(['secret']);

const repeatable = (v: string, acc: string[]): string[] => [...acc, v];

/** A fresh list each call: commander keeps parsed values on the Option objects' command. */
export function agentOptions(): Option[] {
  return [
    new Option('--device <id>', 'device id (env OUTPOST_DEVICE)'),
    new Option('--broker <url>', 'broker URL, e.g. mqtts://host:8883; several brokers of one cluster: a comma-separated list, tried in turn (env OUTPOST_BROKER_URL)'),
    new Option('--state-dir <dir>', 'directory for the agent state (env OUTPOST_STATE_DIR)'),
    new Option('--secret <secret>', 'refused: use --secret-file or env OUTPOST_DEVICE_SECRET').hideHelp(),
    new Option('--secret-file <file>', 'file holding the device secret (env OUTPOST_DEVICE_SECRET_FILE)'),
    new Option('--ca <file>', "PEM CA of the broker's certificate, for mqtts:// (env OUTPOST_CA_FILE; default: the system's CAs)"),
    new Option('--cert <file>', 'PEM client certificate naming this device id; replaces the secret (env OUTPOST_CERT_FILE)'),
    new Option('--key <file>', 'PEM key of --cert (env OUTPOST_KEY_FILE)'),
    new Option('--insecure-plaintext', 'allow mqtt:// to a broker on another machine: the secret and documents cross the network in clear (env OUTPOST_INSECURE_PLAINTEXT=1)'),
    new Option('--trust <file>', "the controller's signing key(s), PEM or JSON, from `outpost device add --trust-out` (env OUTPOST_TRUST_FILE)"),
    new Option('--accept-unsigned', 'accept unsigned desired documents: an unsigned fleet, no signature checks (env OUTPOST_ACCEPT_UNSIGNED=1)'),
    new Option('--topic-prefix <prefix>', 'MQTT topic prefix (default outpost/v1)'),
    new Option('--docker-socket <path>', 'Docker socket (default /var/run/docker.sock)'),
    new Option('--allow-host-path <path>', 'allow bind mounts under this host path (repeatable; env OUTPOST_ALLOW_HOST_PATHS, colon-separated)').argParser(repeatable).default([]),
    new Option('--allow-capability <cap>', 'let workloads ask for this capability, e.g. NET_ADMIN (repeatable; env OUTPOST_ALLOW_CAPABILITIES, comma-separated)').argParser(repeatable).default([]),
    new Option('--allow-volume <name>', 'let any workload mount this named volume under its own name, not namespaced per app (repeatable; env OUTPOST_ALLOW_VOLUMES, comma-separated)')
      .argParser(repeatable)
      .default([]),
    new Option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent'),
    new Option('--log-format <format>', 'auto: readable lines on a terminal, JSON otherwise; json; pretty (env OUTPOST_LOG_FORMAT, default auto)'),
    new Option('--keepalive <seconds>', 'MQTT keepalive in seconds (profile default 60, cellular 300)'),
    new Option('--settle-ms <ms>', 'wait after SUBACK before applying the newest desired version'),
    new Option('--resync-interval <seconds>', 'periodic level-based reconcile, 0 = off'),
    new Option('--clock-refresh <seconds>', "re-read the controller's clock this often while connected, 0 = at each connection only (default 21600)"),
    new Option('--reconnect-base-ms <ms>', 'reconnect backoff base'),
    new Option('--reconnect-cap-ms <ms>', 'reconnect backoff cap'),
    new Option('--watchdog-seconds <s>', 'recreate the MQTT client after this long disconnected'),
    new Option('--retry-base-ms <ms>', 'reconcile retry backoff base'),
    new Option('--retry-cap-ms <ms>', 'reconcile retry backoff cap'),
    new Option('--locks-dir <dir>', 'host directory for update locks, mounted at /run/outpost in each workload (default <state-dir>/locks)'),
    new Option('--lock-poll-ms <ms>', 'how often a deferred update re-checks update locks'),
    new Option('--telemetry-interval <seconds>', 'telemetry period, 0 = off (env OUTPOST_TELEMETRY_INTERVAL; profile default 300, cellular 3600)'),
    new Option(
      '--telemetry-deltas <on|off>',
      'on: telemetry as deltas against a full sample sent on every connection and every 24 samples; off: full samples only, for a controller older than DD-038 (env OUTPOST_TELEMETRY_DELTAS; default on)',
    ),
    new Option(
      '--profile <name>',
      'link profile: default (keepalive 60 s, telemetry 300 s) or cellular (keepalive 300 s, telemetry hourly, reports paced over 5 s, one event per update); explicit options win (env OUTPOST_AGENT_PROFILE)',
    ),
    new Option('--report-delay-ms <ms>', 'how long a progress report waits to go out with the next one (profile default: 1000, cellular 5000)'),
    new Option(
      '--event-detail <level>',
      "summary: an update's steps are listed in the event that ends it; outcome: that event alone tells the update (cellular profile); steps: one event per step as it happens (env OUTPOST_EVENT_DETAIL, profile default summary)",
    ),
    new Option(
      '--report-format <form>',
      'compact: reports and events without default-valued fields, ids cut to 12 hex digits; full: every field, whole ids (env OUTPOST_REPORT_FORMAT, default compact)',
    ),
  ];
}

/** An option's key in the config file: its long name without the dashes (`--state-dir` → `state-dir`). */
export function fileKeyOf(option: Option): string {
  return (option.long ?? '').replace(/^--/, '');
}
