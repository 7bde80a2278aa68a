import { z } from 'zod';

/**
 * Docker image references, after distribution/reference's grammar:
 *   [domain[:port]/]path[:tag][@sha256:hex64]
 * Parsed once here so that the agent, the controller and the docs agree.
 */
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_PART = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `${DOMAIN_PART}(?:\\.${DOMAIN_PART})*(?::[0-9]{1,5})?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = 'sha256:[a-f0-9]{64}';
const REFERENCE = new RegExp(
  `^(?:(${DOMAIN})/)?(${COMPONENT}(?:/${COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`,
);

export interface ImageRef {
  /** Domain if the first component looks like one (has `.` or `:` or is localhost). */
  domain: string | undefined;
  /** Repository including the domain, as Docker names it. */
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}

export function parseImageRef(ref: string): ImageRef | null {
  if (typeof ref !== 'string' || ref.length > 512) return null;
  const m = REFERENCE.exec(ref);
  if (!m) return null;
  let domain = m[1];
  let path = m[2] ?? '';
  // "foo/bar" — "foo" is a path component, not a domain, unless it has a dot, a port or is localhost.
  if (domain !== undefined && !/[.:]/.test(domain) && domain !== 'localhost') {
    if (!new RegExp(`^${COMPONENT}$`).test(domain)) return null;
    path = `${domain}/${path}`;
    domain = undefined;
  }
  return {
    domain,
    repository: domain ? `${domain}/${path}` : path,
    tag: m[3],
    digest: m[4],
  };
}

/** The registry host a reference is pulled from (Docker Hub when none). */
export function registryOf(ref: ImageRef): string {
  return ref.domain ?? 'docker.io';
}

export const ImageReference = z
  .string()
  .min(1)
  .max(512)
  .refine((s) => parseImageRef(s) !== null, {
    message: 'image must be a Docker reference: [registry[:port]/]name[:tag][@sha256:<64 hex>]',
  })
  .describe('Docker image reference, by tag or by digest');
