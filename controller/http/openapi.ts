import type { SwaggerTransformObject } from '@fastify/swagger';
import { jsonSchemaTransformObject } from 'fastify-type-provider-zod';

const REF_PREFIX = '#/components/schemas/';

function collectRefs(node: unknown, into: Set<string>): void {
  if (Array.isArray(node)) {
    for (const item of node) collectRefs(item, into);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string' && value.startsWith(REF_PREFIX)) into.add(value.slice(REF_PREFIX.length));
    else collectRefs(value, into);
  }
}

/**
 * Keeps only the components the operations reach. The zod type provider
 * emits an input and an output variant of every named schema; responses use
 * only the output ones, and an unused `ReleaseInput` next to the real request
 * body would mislead readers.
 */
export function pruneUnusedComponents<D extends { paths?: unknown; components?: { schemas?: Record<string, unknown> } }>(doc: D): D {
  const schemas = doc.components?.schemas;
  if (!schemas) return doc;
  const reached = new Set<string>();
  collectRefs(doc.paths, reached);
  const queue = [...reached];
  for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
    const found = new Set<string>();
    collectRefs(schemas[name], found);
    for (const f of found) {
      if (!reached.has(f)) {
        reached.add(f);
        queue.push(f);
      }
    }
  }
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => reached.has(name)));
  return { ...doc, components: { ...doc.components, schemas: kept } };
}

/** jsonSchemaTransformObject (zod schemas with an id → components), then pruning. */
export const transformOpenApiObject: SwaggerTransformObject = (document) => pruneUnusedComponents(jsonSchemaTransformObject(document));
