/**
 * Same-origin calls to the controller API with the operator's token as a
 * bearer header (DD-042). The token lives in sessionStorage: gone when the
 * tab closes, never in a URL, never in a cookie the browser sends by itself.
 */
const TOKEN_KEY = 'outpost.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const tokenStore = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string): void => sessionStorage.setItem(TOKEN_KEY, token),
  clear: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

export class Api {
  /** Called on a 401: the token is wrong or was revoked. */
  onUnauthorized: () => void = () => undefined;

  async get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  async post<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  async call<T>(method: string, path: string, body?: unknown, token = tokenStore.get()): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), cache: 'no-store' });
    const text = await res.text();
    const data: unknown = text ? JSON.parse(text) : undefined;
    if (!res.ok) {
      const err = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
      if (res.status === 401) this.onUnauthorized();
      throw new ApiError(res.status, err?.code ?? 'HTTP', err?.message ?? `${method} ${path}: HTTP ${res.status}`);
    }
    return data as T;
  }
}
