import assert from 'node:assert/strict';
import { LOG_FORMAT_DIRECTIVE, accessLogDirective, parseAccessLogLine, parseAccessLogLines } from '../../src/core/analysis/accessLog';

/** A line as nginx writes it with the phar_rollout format. */
export function logLine(
  f: Partial<Record<'msec' | 'addr' | 'ustatus' | 'utime' | 'status' | 'rtime' | 'method' | 'uri', string>> = {},
): string {
  return (
    `{"msec":"${f.msec ?? '1764661200.123'}","upstream_addr":"${f.addr ?? '127.0.0.1:8001'}","upstream_status":"${f.ustatus ?? '200'}",` +
    `"upstream_response_time":"${f.utime ?? '0.012'}","status":"${f.status ?? '200'}","request_time":"${f.rtime ?? '0.013'}",` +
    `"method":"${f.method ?? 'GET'}","uri":"${f.uri ?? '/checkout'}"}`
  );
}

describe('analysis access log format', () => {
  it('exports the exact nginx log_format directive', () => {
    assert.equal(
      LOG_FORMAT_DIRECTIVE,
      `log_format phar_rollout escape=json '{"msec":"$msec","upstream_addr":"$upstream_addr","upstream_status":"$upstream_status",` +
        `"upstream_response_time":"$upstream_response_time","status":"$status","request_time":"$request_time",` +
        `"method":"$request_method","uri":"$uri"}';`,
    );
    assert.equal(accessLogDirective('/var/log/nginx/rollout.log'), 'access_log /var/log/nginx/rollout.log phar_rollout;');
    assert.throws(() => accessLogDirective('/tmp/x; include /etc/passwd'), /cannot be written into nginx config/);
  });

  it('parses a line into numbers and raw upstream fields', () => {
    assert.deepEqual(parseAccessLogLine(logLine({ addr: '127.0.0.1:8002, 127.0.0.1:8001', ustatus: '502, 200', utime: '0.000, 0.004' })), {
      timeMs: 1764661200123,
      upstreamAddr: '127.0.0.1:8002, 127.0.0.1:8001',
      upstreamStatus: '502, 200',
      upstreamResponseTime: '0.000, 0.004',
      status: 200,
      requestTimeMs: 13,
      method: 'GET',
      uri: '/checkout',
    });
  });

  it('undoes escape=json in the uri and keeps hostile bytes as text', () => {
    const e = parseAccessLogLine(logLine({ uri: '/a\\"b\\\\c\\u001B[2J\\n' }));
    assert.equal(e?.uri, '/a"b\\c\u001b[2J\n');
  });

  it('refuses foreign and broken lines, and counts them', () => {
    const hostile = [
      '127.0.0.1 - - [02/Dec/2026:07:00:00 +0000] "GET / HTTP/1.1" 200 612 "-" "curl"', // combined format
      logLine().slice(0, 60), // cut in the middle
      logLine({ uri: '/x","status":"200' }), // an unescaped quote cannot come from nginx
      logLine({ status: '2000' }),
      logLine({ msec: 'NaN' }),
      logLine({ uri: '/bad\\escape' }),
      logLine({ ustatus: '200; rm -rf /' }),
      `${logLine()} trailing`,
      '{"msec":"1","upstream_addr":"","upstream_status":"","upstream_response_time":"","status":"200","request_time":"0.000","method":"GET","uri":"/","extra":"1"}',
      '\u0000\u0000\u0000',
    ];
    for (const line of hostile) assert.equal(parseAccessLogLine(line), undefined, line);
    const parsed = parseAccessLogLines(['', logLine(), ...hostile, logLine({ uri: '/api/items' }), ''].join('\n'));
    assert.equal(parsed.entries.length, 2);
    assert.equal(parsed.unparsable, hostile.length);
  });

  it('accepts a request nginx answered itself (no upstream)', () => {
    const e = parseAccessLogLine(logLine({ addr: '', ustatus: '', utime: '', status: '404' }));
    assert.equal(e?.upstreamAddr, '');
    assert.equal(e?.status, 404);
  });
});
