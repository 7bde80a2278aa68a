import type { FastifyInstance } from 'fastify';

/**
 * JSON bodies through fastify's own parser (which refuses `__proto__` and
 * `constructor.prototype` keys), except that an empty body counts as no body:
 * clients such as curl scripts send `Content-Type: application/json` on every
 * request, DELETE included, and that must not fail. A route that needs a body
 * still rejects the missing one through its schema.
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text === '') {
      done(null, undefined);
      return;
    }
    parseJson(request, text, done);
  });
}
