import { request, type Agent } from 'node:http';

/** How a GET was answered: status 0 when the connection failed, with the error's text as the body. */
export interface Answer {
  status: number;
  body: string;
}

/**
 * One GET through `agent` (with `keepAlive: false`, each on its own
 * connection, as many separate callers would open). Never rejects: a failure
 * is an answer too.
 */
export function get(url: string, agent: Agent): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request(url, { agent, timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (error) => resolve({ status: 0, body: error.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ status: 0, body: error.message }));
    req.end();
  });
}
