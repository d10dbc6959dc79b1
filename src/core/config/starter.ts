import type { ComposerInfo } from './composerJson';

/**
 * A commented rollout.json for a project that has none, derived from composer.json.
 * It validates as written (a unit test parses it); remote examples are left as comments.
 */
export function renderStarterRolloutJson(composer: ComposerInfo): string {
  const app = composer.shortName ?? 'app';
  return `{
  // Phar Rollout configuration. Reference: the extension's README, "rollout.json".
  // Hover a property for its documentation; the editor validates this file as you type
  // (the extension maps rollout.json to its schema; no "$schema" needed).

  // The phar on each backend is <app>.phar. Taken from composer.json's name (${composer.name ?? 'none'}).
  "app": ${JSON.stringify(app)},

  "build": {
    // Arguments for composer before the phar is compiled. [] skips composer.
    "composer": ["install", "--no-dev", "--optimize-autoloader", "--no-interaction"],
    // "auto": box when found (setting, vendor/bin/box, PATH, box.phar), else the built-in compiler.
    "box": "auto"
  },

  // Servers that run the app. Without "ssh" a backend is on this machine.
  // For a server, add e.g. "ssh": "deploy@10.0.0.10" (your own ssh config and agent are used)
  // and an absolute "dir" such as "/srv/${app}".
  "backends": [
    {
      "name": "web-1",
      "group": "stable",
      "upstream": "127.0.0.1:8081",
      "dir": ".rollout/backends/web-1",
      "probe": "http://127.0.0.1:8081/__version"
      // "restart": "sudo systemctl reload php8.2-fpm"
    },
    {
      "name": "web-2",
      "group": "canary",
      "upstream": "127.0.0.1:8082",
      "dir": ".rollout/backends/web-2",
      "probe": "http://127.0.0.1:8082/__version"
    }
  ],

  // nginx instances whose upstream include file Phar Rollout writes. Uncomment and adapt:
  "loadBalancers": [
    // {
    //   "name": "edge",
    //   "ssh": "deploy@10.0.0.5",
    //   "file": "/etc/nginx/conf.d/${app}-upstream.conf",
    //   "upstream": ${JSON.stringify(app.replace(/[^A-Za-z0-9_]/g, '_'))},
    //   "test": "sudo nginx -t",
    //   "reload": "sudo nginx -s reload",
    //   "url": "https://${app}.example.com/__version",
    //   // Requests in the phar_rollout format, read by the canary analysis (default: beside "file").
    //   "accessLog": "/var/log/nginx/${app}-rollout.log"
    // }
  ],

  // The plan: canary percentages, each observed on real traffic ("run" walks it). A step may say
  // how long it is observed, { "weight": 25, "observe": "10m" }, and { "pause": true } waits for a person.
  // "weighted" splits requests, "sticky" keeps a client on one side.
  "traffic": { "mode": "weighted", "steps": [1, 5, { "weight": 25, "observe": "10m" }, { "pause": true }, 50, 100] },

  // How the canary is judged from the load balancers' access logs, every interval, against stable
  // in the same window. Too few canary requests is never a pass: the rollout pauses and says why.
  "analysis": {
    "interval": "1m",
    "observe": "5m",
    "minRequests": 50,
    "limits": { "maxErrorRate": 0.01, "maxP95Ms": 1000, "maxErrorRateIncrease": 0.005, "maxP95Ratio": 1.25 },
    "confidence": 0.95,
    "autoPromote": false
  },

  // Webhooks (Slack-compatible "text") for step, pause, failure, rollback and completion:
  // "notify": { "webhooks": ["https://hooks.example.com/..."] },

  // A quick synthetic pre-check after every step; a failing gate stops the rollout (and rolls back to 0 % when autoRollback).
  "gates": { "samples": 20, "maxErrorRate": 0.01, "maxP95Ms": 800, "autoRollback": true },

  // Releases kept on each backend (the current and the previous are never pruned).
  "keepReleases": 5
}
`;
}
