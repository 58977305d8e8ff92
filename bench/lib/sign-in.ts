/**
 * A session as a browser gets one: POST /v1/session/state (the state, kept in a cookie), then
 * POST /v1/session with the OAuth code, that state and the cookie.
 */
export async function exchangeCode(base: string, code: string): Promise<string> {
  const started = await fetch(`${base}/v1/session/state`, { method: 'POST' });
  const { data } = (await started.json()) as { data: { state: string } };
  const cookie = (started.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const res = await fetch(`${base}/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie },
    body: JSON.stringify({ code, state: data.state }),
  });
  const body = (await res.json()) as { data?: { token: string } };
  if (res.status !== 200 || !body.data) throw new Error(`POST /v1/session: ${res.status} ${JSON.stringify(body)}`);
  return body.data.token;
}
