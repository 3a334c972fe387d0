/** Structured logging (pino). Secrets in headers and connection params never reach the log. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'chat'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'req.headers.cookie',
        '*.password',
        '*.token',
        '*.apiKey',
        '*.refreshToken',
        '*.connectionParams',
      ],
      censor: '[redacted]',
    },
  });
}
