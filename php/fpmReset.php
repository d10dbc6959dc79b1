<?php

declare(strict_types=1);

/*
 * phar-rollout: makes a php-fpm pool serve the release `current` points at now, without a reload.
 * Run by php-fpm itself: phar-rollout sends FastCGI requests to the pool with SCRIPT_FILENAME set
 * to this file (copied to <backend dir>/.phar-rollout/fpmReset.php) after it switched `current`.
 *
 * Two caches keep an old release served after the symlink moved:
 *   - OPcache (shared by the pool's workers): opcache_reset() empties it for all of them.
 *   - the realpath cache (one per worker, 120 s by default): clearstatcache(true) empties only the
 *     worker that runs it. So the client sends one request per worker at once, and each request
 *     waits here (a barrier: a file in the temp dir, keyed by the client's token) until `n`
 *     distinct workers have arrived: no worker can take two of them, so every worker runs one.
 *
 * Query: token=<hex> n=<workers> (n=1: no barrier). Answers JSON:
 *   {"pid", "opcacheReset", "workers": [pids of the pool's workers], "arrived", "sapi"}
 */

$query = [];
parse_str((string) ($_SERVER['QUERY_STRING'] ?? ''), $query);
$token = is_string($query['token'] ?? null) && preg_match('/^[0-9a-f]{16,64}$/', $query['token']) ? $query['token'] : null;
$n = max(1, min(256, (int) ($query['n'] ?? 1)));

$opcacheReset = function_exists('opcache_reset') ? opcache_reset() : false;
clearstatcache(true);
$pid = getmypid();

/** Pids of this worker's siblings (children of the same master), from /proc; [] without /proc. */
function poolWorkers(): array
{
    $self = @file_get_contents('/proc/self/stat');
    if ($self === false) {
        return [];
    }
    $parent = (int) explode(' ', substr($self, strrpos($self, ')') + 2))[1];
    $workers = [];
    foreach (glob('/proc/[0-9]*/stat') ?: [] as $file) {
        $stat = @file_get_contents($file);
        if ($stat === false) {
            continue;
        }
        $fields = explode(' ', substr($stat, strrpos($stat, ')') + 2));
        if ((int) $fields[1] === $parent && $fields[0] !== 'Z') {
            $workers[] = (int) basename(dirname($file));
        }
    }
    sort($workers);
    return $workers;
}

// Barrier files of earlier resets: nobody waits on them after a minute.
foreach (glob(sys_get_temp_dir() . '/phar-rollout-fpm-reset-*') ?: [] as $old) {
    if (@filemtime($old) < time() - 60) {
        @unlink($old);
    }
}

$arrived = 1;
if ($token !== null && $n > 1) {
    $file = sys_get_temp_dir() . '/phar-rollout-fpm-reset-' . $token;
    $h = fopen($file, 'c+');
    if ($h !== false) {
        flock($h, LOCK_EX);
        fseek($h, 0, SEEK_END);
        fwrite($h, $pid . "\n");
        fflush($h);
        flock($h, LOCK_UN);
        $deadline = microtime(true) + 3.0;
        do {
            $arrived = count(array_unique(array_filter(explode("\n", (string) @file_get_contents($file)))));
            if ($arrived >= $n) {
                break;
            }
            usleep(5000);
        } while (microtime(true) < $deadline);
        fclose($h);
    }
}

header('Content-Type: application/json');
header('Cache-Control: no-store');
echo json_encode([
    'pid' => $pid,
    'opcacheReset' => $opcacheReset,
    'workers' => poolWorkers(),
    'arrived' => $arrived,
    'sapi' => PHP_SAPI,
]), "\n";
