/** The admin API, called with the token kept in this tab's session storage (never in a URL). */

const TOKEN_KEY = 'allot.adminToken'

export class Unauthorized extends Error {}

/** An admin API error, with the server's message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (value: string) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
}

/** GET or POST an admin path; JSON in and out. A 401 throws `Unauthorized`, any other failure `ApiError`. */
export async function admin<T>(path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${token.get() ?? ''}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`/admin${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers,
    cache: 'no-store',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(signal ? { signal } : {}),
  })
  if (res.status === 401) throw new Unauthorized('the admin token was refused')
  const text = await res.text()
  const json = text ? JSON.parse(text) : undefined
  if (!res.ok) throw new ApiError(res.status, json?.msg ?? `${res.status} ${res.statusText}`)
  return json as T
}
