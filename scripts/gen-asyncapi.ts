import { PROTOCOL_VERSION } from '../shared/schemas/index.js';
import { DEFAULT_TOPIC_PREFIX } from '../shared/topics.js';

/**
 * docs/asyncapi.json: the MQTT contract of docs/protocol.md as an AsyncAPI 3.0
 * document (DD-045). Generated, like docs/schemas, so it cannot drift: the
 * channels come from the topic layout of shared/topics.ts, the payloads are
 * `$ref`s to the generated JSON Schemas, and the examples are the first
 * `<!-- example: Name -->` block of each message in docs/protocol.md (which
 * test/unit/schemas-fresh.test.ts already validates). `renderAsyncApi()` is
 * pure; test/contract/asyncapi.test.ts compares it with the committed file.
 */

type JsonObject = { [key: string]: unknown };

interface MessageSource {
  /** Message key, also the zod schema name and the protocol.md example label. */
  name: string;
  schemaFile: string;
  summary: string;
}

interface ChannelSource {
  key: string;
  address: string;
  description: string;
  messages: readonly MessageSource[];
  /** From the controller's point of view (see info.description). */
  action: 'send' | 'receive';
  qos: 0 | 1;
  retain: boolean;
  summary: string;
}

const DEVICE_ADDRESS = (channel: string): string => `${DEFAULT_TOPIC_PREFIX}/devices/{deviceId}/${channel}`;

const M = {
  DesiredState: { name: 'DesiredState', schemaFile: 'desired-state.schema.json', summary: 'The full state one device should be in, with a version that only increases' },
  ReportedState: { name: 'ReportedState', schemaFile: 'reported-state.schema.json', summary: 'What the device runs, as a full document' },
  Presence: { name: 'Presence', schemaFile: 'presence.schema.json', summary: 'Online/offline with the connection epoch; offline is also the connection will' },
  DeviceEvent: { name: 'DeviceEvent', schemaFile: 'device-event.schema.json', summary: 'Something that happened on the device, including answers to commands' },
  Command: { name: 'Command', schemaFile: 'command.schema.json', summary: 'A one-off request to one device (ping, restart, logs, ...)' },
  Telemetry: { name: 'Telemetry', schemaFile: 'telemetry.schema.json', summary: 'A full periodic metrics sample' },
  TelemetryDelta: { name: 'TelemetryDelta', schemaFile: 'telemetry-delta.schema.json', summary: 'A metrics sample relative to the last full one' },
  RolloutStatus: { name: 'RolloutStatus', schemaFile: 'rollout-status.schema.json', summary: 'Progress of one rollout, for integrations' },
  ControllerTime: { name: 'ControllerTime', schemaFile: 'controller-time.schema.json', summary: "The controller's clock, answering a device's online presence" },
} as const satisfies Record<string, MessageSource>;

/** The rows of docs/protocol.md §4.1 (the controller-internal retained marker is left out). */
const CHANNELS: readonly ChannelSource[] = [
  { key: 'desired', address: DEVICE_ADDRESS('desired'), description: 'protocol.md §6.2', messages: [M.DesiredState], action: 'send', qos: 1, retain: true, summary: 'Publish the desired state of a device' },
  { key: 'reported', address: DEVICE_ADDRESS('reported'), description: 'protocol.md §6.3', messages: [M.ReportedState], action: 'receive', qos: 1, retain: true, summary: 'Receive what a device runs' },
  { key: 'presence', address: DEVICE_ADDRESS('presence'), description: 'protocol.md §6.4 and §9', messages: [M.Presence], action: 'receive', qos: 1, retain: true, summary: 'Receive whether a device is connected' },
  { key: 'events', address: DEVICE_ADDRESS('events'), description: 'protocol.md §6.5', messages: [M.DeviceEvent], action: 'receive', qos: 1, retain: false, summary: 'Receive device events and command answers' },
  { key: 'commands', address: DEVICE_ADDRESS('commands'), description: 'protocol.md §6.6', messages: [M.Command], action: 'send', qos: 1, retain: false, summary: 'Send a one-off command to a device' },
  { key: 'telemetry', address: DEVICE_ADDRESS('telemetry'), description: 'protocol.md §6.7', messages: [M.Telemetry, M.TelemetryDelta], action: 'receive', qos: 0, retain: false, summary: 'Receive device metrics' },
  { key: 'clock', address: DEVICE_ADDRESS('clock'), description: 'protocol.md §6.9', messages: [M.ControllerTime], action: 'send', qos: 0, retain: false, summary: "Tell a device the controller's time" },
  { key: 'rolloutStatus', address: `${DEFAULT_TOPIC_PREFIX}/rollouts/{rolloutId}/status`, description: 'protocol.md §6.8', messages: [M.RolloutStatus], action: 'send', qos: 1, retain: true, summary: 'Publish the status of a rollout' },
];

const MQTT_BINDING_VERSION = '0.2.0';

/** First example of each message in docs/protocol.md, keyed by schema name. */
export function protocolExamples(protocolMarkdown: string): Map<string, unknown> {
  const examples = new Map<string, unknown>();
  for (const m of protocolMarkdown.matchAll(/<!-- example: (\w+) -->\n```json\n([\s\S]*?)\n```/g)) {
    const [, name, json] = m;
    if (name !== undefined && json !== undefined && !examples.has(name)) examples.set(name, JSON.parse(json) as unknown);
  }
  return examples;
}

export function renderAsyncApiDocument(protocolMarkdown: string): JsonObject {
  const examples = protocolExamples(protocolMarkdown);
  const messages: JsonObject = {};
  for (const message of Object.values(M)) {
    const example = examples.get(message.name);
    if (example === undefined) throw new Error(`docs/protocol.md has no "<!-- example: ${message.name} -->" block`);
    messages[message.name] = {
      name: message.name,
      title: message.name,
      summary: message.summary,
      contentType: 'application/json',
      payload: { $ref: `schemas/${message.schemaFile}` },
      examples: [{ name: `${message.name}-example`, payload: example }],
    };
  }

  const channels: JsonObject = {};
  const operations: JsonObject = {};
  for (const channel of CHANNELS) {
    const parameterNames = [...channel.address.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '');
    channels[channel.key] = {
      address: channel.address,
      description: `${channel.description}. QoS ${channel.qos}, ${channel.retain ? 'retained' : 'not retained'}.`,
      messages: Object.fromEntries(channel.messages.map((m) => [m.name, { $ref: `#/components/messages/${m.name}` }])),
      parameters: Object.fromEntries(parameterNames.map((p) => [p, { $ref: `#/components/parameters/${p}` }])),
    };
    operations[`${channel.action}${channel.key[0]?.toUpperCase() ?? ''}${channel.key.slice(1)}`] = {
      action: channel.action,
      channel: { $ref: `#/channels/${channel.key}` },
      summary: channel.summary,
      messages: channel.messages.map((m) => ({ $ref: `#/channels/${channel.key}/messages/${m.name}` })),
      bindings: { mqtt: { qos: channel.qos, retain: channel.retain, bindingVersion: MQTT_BINDING_VERSION } },
    };
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Outpost MQTT protocol',
      version: `${PROTOCOL_VERSION}`,
      description: [
        `Generated from shared/schemas and shared/topics.ts by scripts/gen-asyncapi.ts; do not edit, run \`npm run gen:schemas\`.`,
        'The normative text is docs/protocol.md; this document restates its topic table (§4.1) for tools.',
        'Operations are written from the point of view of the controller (the service identity): it sends desired, commands and rolloutStatus, and receives the rest. An agent does the opposite on its own device topics.',
        `Addresses use the default topic prefix \`${DEFAULT_TOPIC_PREFIX}\`; a fleet may configure another prefix (1-4 levels), used the same way by every participant.`,
        'MQTT 3.1.1; agents connect with CleanSession 0 and an offline Presence as will (QoS 1, retained). QoS 2 is never used.',
        'Payloads reference the JSON Schemas (draft 2020-12) in docs/schemas.',
      ].join(' '),
      license: { name: 'Apache-2.0' },
    },
    defaultContentType: 'application/json',
    servers: {
      mqtt: { host: 'localhost:1883', protocol: 'mqtt', protocolVersion: '3.1.1', description: 'Plain MQTT (loopback by default; see docs/operations.md)' },
      mqtts: { host: 'localhost:8883', protocol: 'mqtts', protocolVersion: '3.1.1', description: 'MQTT over TLS; devices may authenticate with a client certificate (docs/security.md)' },
    },
    channels,
    operations,
    components: {
      parameters: {
        deviceId: { description: 'Device id: 1-63 characters of a-z 0-9 . _ -, starting with a letter or digit (^[a-z0-9][a-z0-9._-]{0,62}$)', examples: ['pump-17'] },
        rolloutId: { description: 'Rollout id: 1-64 characters of A-Z a-z 0-9 _ -', examples: ['r-01'] },
      },
      messages,
    },
  };
}

export function renderAsyncApi(protocolMarkdown: string): string {
  return `${JSON.stringify(renderAsyncApiDocument(protocolMarkdown), null, 2)}\n`;
}
