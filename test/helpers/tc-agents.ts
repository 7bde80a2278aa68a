import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { GenericContainer, Wait, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import { agentCommandArgs, type AgentProcessOptions } from './agent-process.js';
import { DEVICE_LABEL, removeContainersByLabel } from './docker.js';
import type { ExitInfo, ManagedProcess } from './process.js';
import { removeAtExit, removedAlready } from './tc-exit-cleanup.js';
import { waitFor } from './wait-for.js';

/** Label on every agent container of one AgentContainers set: its close() removes them all, failed starts included. */
const RUN_LABEL = 'io.outpost.test.tc-run';
const STOP_GRACE_MS = 5_000;

/** An agent running in a container, seen as a process: `pid` is its PID on the host (for nsenter, link-partition.ts). */
export interface ContainerAgent extends ManagedProcess {
  readonly containerId: string;
  readonly pid: number;
}

export interface AgentContainers {
  /** Starts `outpost agent` (the options as for a host process) in a container; resolves once it logged "agent started". */
  launch(opts: AgentProcessOptions): Promise<ContainerAgent>;
  /** Stops and removes every container this set started. Idempotent. */
  close(): Promise<void>;
}

/**
 * Agents in containers of the image of compose/Dockerfile (agent-image.ts),
 * managed with testcontainers, on the test's own network (tc-network.ts).
 * Each gets the host's Docker socket for its workloads and its state
 * directory at the same path as on the host (the engine binds its locks
 * directory into workloads). Labelled with its device id, like the
 * workloads, and not io.outpost.managed: the agent leaves it alone.
 */
export function agentContainers(opts: { image: string; network: StartedNetwork; docker?: Docker }): AgentContainers {
  const docker = opts.docker ?? new Docker();
  const run = randomBytes(6).toString('hex');
  const started = new Set<ContainerAgent>();
  let closing: Promise<void> | undefined;

  const launch = async (agentOpts: AgentProcessOptions): Promise<ContainerAgent> => {
    if (closing) throw new Error('agent containers closed');
    const lines: string[] = [];
    const maxLines = agentOpts.bufferLines ?? 400;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ OUTPOST_DEVICE_SECRET: agentOpts.secretFile ? undefined : agentOpts.secret, ...(agentOpts.env ?? {}) })) {
      if (v !== undefined) env[k] = v;
    }
    const binds = [
      { source: '/var/run/docker.sock', target: '/var/run/docker.sock' },
      { source: agentOpts.stateDir, target: agentOpts.stateDir },
      ...(agentOpts.secretFile ? [{ source: agentOpts.secretFile, target: agentOpts.secretFile, mode: 'ro' as const }] : []),
      ...(agentOpts.trustFile ? [{ source: agentOpts.trustFile, target: agentOpts.trustFile, mode: 'ro' as const }] : []),
    ];
    let container: StartedTestContainer;
    try {
      container = await new GenericContainer(opts.image)
        .withNetwork(opts.network)
        // The test's own bridge is the private network --insecure-plaintext is for: mqtt:// to an address that is not loopback.
        .withCommand([...agentCommandArgs(agentOpts), '--insecure-plaintext'])
        .withEnvironment(env)
        .withBindMounts(binds)
        .withLabels({ [DEVICE_LABEL]: agentOpts.deviceId, [RUN_LABEL]: run })
        .withLogConsumer((stream) => {
          let partial = '';
          stream.on('data', (chunk: string | Buffer) => {
            partial += chunk.toString();
            const parts = partial.split('\n');
            partial = parts.pop() ?? '';
            for (const part of parts) {
              lines.push(`out|${part}`);
              if (lines.length > maxLines) lines.shift();
            }
          });
        })
        .withWaitStrategy(Wait.forLogMessage(/"msg":"agent started"/))
        .withStartupTimeout(30_000)
        .start();
    } catch (err) {
      throw new Error(`agent container for ${agentOpts.deviceId} did not start: ${(err as Error).message}\n${lines.join('\n')}`, { cause: err });
    }
    const containerId = container.getId();
    removeAtExit('container', containerId);
    const pid = (await docker.getContainer(containerId).inspect()).State.Pid;

    let exitInfo: ExitInfo | undefined;
    const exited: Promise<ExitInfo> = docker
      .getContainer(containerId)
      .wait()
      .then((r: { StatusCode?: number }) => ({ code: r.StatusCode ?? null, signal: null }))
      .catch((error: unknown) => ({ code: null, signal: null, error: error instanceof Error ? error : new Error(String(error)) }))
      .then((info: ExitInfo) => (exitInfo = info));
    let stopping: Promise<ExitInfo> | undefined;
    const output = (): string => lines.join('\n');

    const agent: ContainerAgent = {
      name: `agent container ${agentOpts.deviceId}`,
      containerId,
      pid,
      get exitInfo() {
        return exitInfo;
      },
      output,
      async waitForLine(pattern, timeoutMs) {
        return waitFor(
          () => {
            const line = lines.find((l) => pattern.test(l));
            if (line === undefined && exitInfo) throw new Error(`exited (code=${String(exitInfo.code)})`);
            return line;
          },
          { timeoutMs, intervalMs: 100, description: `${agent.name} prints ${String(pattern)}` },
        );
      },
      async waitForExit(timeoutMs) {
        if (timeoutMs === undefined) return exited;
        return waitFor(() => exitInfo, { timeoutMs, description: `${agent.name} exits` });
      },
      kill(signal = 'SIGTERM') {
        if (exitInfo) return;
        docker
          .getContainer(containerId)
          .kill({ signal })
          .catch(() => undefined);
      },
      stop(graceMs = STOP_GRACE_MS) {
        stopping ??= (async () => {
          await container.stop({ timeout: graceMs, remove: true });
          removedAlready('container', containerId);
          started.delete(agent);
          return exited;
        })();
        return stopping;
      },
    };
    started.add(agent);
    return agent;
  };

  return {
    launch,
    close: () =>
      (closing ??= (async () => {
        await Promise.all([...started].map((a) => a.stop()));
        for (const id of await removeContainersByLabel(RUN_LABEL, run, docker)) removedAlready('container', id);
      })()),
  };
}
