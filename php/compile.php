<?php

/*
 * Phar Rollout's built-in phar compiler.
 *
 *   php -d phar.readonly=0 compile.php PLAN.json     (or "-" to read the plan from stdin)
 *
 * The extension resolves box.json into a plain "plan" and this script only writes it out, so
 * every decision (which files, in which order, which placeholders) is made and tested in one place:
 *
 *   {
 *     "output":       "/abs/dir/app.phar",              must end in .phar; overwritten
 *     "alias":        "app.phar" | null,                the manifest alias (Phar::setAlias)
 *     "stub":         "<?php ... __HALT_COMPILER(); ?>"  | null for Phar::createDefaultStub(defaultStubIndex)
 *     "defaultStubIndex": "index.php" | null,
 *     "files":        [{"local": "src/A.php", "source": "/abs/src/A.php", "binary": false}, ...]  (sorted)
 *     "main":         "index.php" | null,               its "#!" line is removed (the stub carries the shebang)
 *     "placeholders": {"@name@": "value", ...},         replaced in every non-binary file
 *     "compression":  "GZ" | "NONE",
 *     "algorithm":    "SHA256" | "SHA512" | "SHA1" | "MD5",
 *     "metadata":     any JSON value,
 *     "timestamp":    1700000000                        every entry's mtime (the commit time)
 *   }
 *
 * Output is byte-identical for identical plans: the Phar API stamps each entry with time() and
 * the umask's permissions, so after writing, the manifest is rewritten with the fixed timestamp
 * and 0644 permissions and the archive is signed again.
 *
 * Progress goes to stdout, one line at a time; errors go to stderr as "compile.php: error: ..."
 * (with "file:line" of the PHP source where that helps). Exit code 0 on success, 1 on failure.
 */

declare(strict_types=1);

const SIGNATURE_ALGORITHMS = [
    'MD5' => [Phar::MD5, 'md5', 16],
    'SHA1' => [Phar::SHA1, 'sha1', 20],
    'SHA256' => [Phar::SHA256, 'sha256', 32],
    'SHA512' => [Phar::SHA512, 'sha512', 64],
];

/** The GZ bit, in an entry's flags and in the archive's global flags alike. */
const PHAR_GZ = 0x00001000;

function progress(string $line): void
{
    fwrite(STDOUT, $line . "\n");
    fflush(STDOUT);
}

final class BuildFailure extends RuntimeException
{
}

set_error_handler(static function (int $severity, string $message, string $file, int $line): bool {
    if (!(error_reporting() & $severity)) {
        return false;
    }
    throw new ErrorException($message, 0, $severity, $file, $line);
});

function readPlan(array $argv): array
{
    $source = $argv[1] ?? null;
    if ($source === null) {
        throw new BuildFailure('usage: php -d phar.readonly=0 compile.php PLAN.json|-');
    }
    $json = $source === '-' ? stream_get_contents(STDIN) : @file_get_contents($source);
    if (!is_string($json)) {
        throw new BuildFailure("cannot read the plan from {$source}");
    }
    try {
        $plan = json_decode($json, true, 512, JSON_THROW_ON_ERROR);
    } catch (JsonException $e) {
        throw new BuildFailure('the plan is not valid JSON: ' . $e->getMessage());
    }
    if (!is_array($plan)) {
        throw new BuildFailure('the plan must be a JSON object');
    }
    foreach (['output' => 'string', 'files' => 'array', 'timestamp' => 'integer'] as $key => $type) {
        if (gettype($plan[$key] ?? null) !== $type) {
            throw new BuildFailure("plan.{$key} must be of type {$type}");
        }
    }
    if (!str_ends_with($plan['output'], '.phar')) {
        throw new BuildFailure('plan.output must end in .phar');
    }
    return $plan;
}

function compilePhar(array $plan): void
{
    if (ini_get('phar.readonly')) {
        throw new BuildFailure('phar.readonly is on: run php with -d phar.readonly=0');
    }
    $output = $plan['output'];
    $files = $plan['files'];
    $placeholders = $plan['placeholders'] ?? [];
    $placeholders = is_array($placeholders) ? array_map('strval', $placeholders) : [];
    $main = $plan['main'] ?? null;
    $algorithm = $plan['algorithm'] ?? 'SHA256';
    if (!isset(SIGNATURE_ALGORITHMS[$algorithm])) {
        throw new BuildFailure("unknown signature algorithm {$algorithm}");
    }
    $compression = $plan['compression'] ?? 'NONE';
    if ($compression !== 'GZ' && $compression !== 'NONE') {
        throw new BuildFailure("unsupported compression {$compression} (GZ or NONE)");
    }
    if ($compression === 'GZ' && !Phar::canCompress(Phar::GZ)) {
        throw new BuildFailure('GZ compression needs the zlib extension');
    }

    if (file_exists($output)) {
        unlink($output);
    }
    $alias = isset($plan['alias']) && is_string($plan['alias']) && $plan['alias'] !== '' ? $plan['alias'] : null;
    $phar = new Phar($output, 0, $alias);
    $phar->startBuffering();

    // Stub, metadata and signature before the entries: even while buffering each of these calls costs time in
    // proportion to the entries already added (with 2,000 entries about a third of the compile), and nothing on
    // an empty archive. The output is byte-identical.
    if (isset($plan['stub']) && is_string($plan['stub'])) {
        $phar->setStub($plan['stub']);
    } else {
        $index = isset($plan['defaultStubIndex']) && is_string($plan['defaultStubIndex']) ? $plan['defaultStubIndex'] : 'index.php';
        $phar->setStub(Phar::createDefaultStub($index));
    }
    if (array_key_exists('metadata', $plan) && $plan['metadata'] !== null) {
        $phar->setMetadata($plan['metadata']);
    }
    $phar->setSignatureAlgorithm(SIGNATURE_ALGORITHMS[$algorithm][0]);

    $count = count($files);
    progress("adding {$count} files");
    // buildFromIterator with in-memory streams: addFromString is quadratic in the number of entries.
    // Entries keep the plan's (sorted) order: the manifest is written in insertion order.
    $phar->buildFromIterator(entries($files, $placeholders, $main, $count));
    if ($compression === 'GZ' && $count > 0) {
        // While buffering: the entries are written compressed once, instead of the archive being rewritten.
        progress('compressing (GZ)');
        $phar->compressFiles(Phar::GZ);
    }
    $phar->stopBuffering();
    unset($phar);

    progress('fixing timestamps to ' . gmdate('Y-m-d\TH:i:s\Z', $plan['timestamp']) . " and signing ({$algorithm})");
    normalize($output, $plan['timestamp'], $algorithm);
    $size = filesize($output);
    progress("wrote {$output} ({$size} bytes, {$count} files)");
}

/**
 * Yields "path in phar" => stream with the file's final contents (placeholders replaced,
 * the main script's shebang removed), printing progress every 10 % of large lists.
 */
function entries(array $files, array $placeholders, ?string $main, int $count): Generator
{
    $step = max(100, intdiv($count, 10));
    foreach ($files as $i => $file) {
        $local = (string) ($file['local'] ?? '');
        $source = (string) ($file['source'] ?? '');
        if ($local === '' || str_starts_with($local, '/') || str_contains('/' . $local . '/', '/../')) {
            throw new BuildFailure("invalid path inside the phar: \"{$local}\"");
        }
        $contents = @file_get_contents($source);
        if (!is_string($contents)) {
            throw new BuildFailure("{$source}: cannot read the file");
        }
        if (empty($file['binary'])) {
            if ($placeholders) {
                $contents = strtr($contents, $placeholders);
            }
            if ($local === $main && str_starts_with($contents, '#!')) {
                // The shebang belongs in the stub; a second one would be printed as output.
                $newline = strpos($contents, "\n");
                $contents = $newline === false ? '' : substr($contents, $newline + 1);
            }
        }
        $stream = fopen('php://memory', 'w+b');
        fwrite($stream, $contents);
        rewind($stream);
        yield $local => $stream;
        if (($i + 1) % $step === 0 && $i + 1 < $count) {
            progress('added ' . ($i + 1) . "/{$count}");
        }
    }
}

/**
 * Rewrites every manifest entry's timestamp and permissions, then the signature.
 * Layout (https://www.php.net/manual/en/phar.fileformat.php): stub ending in __HALT_COMPILER(); ?>\r\n,
 * then manifest: u32 length, u32 count, u16 api, u32 flags, u32 alias length + alias, u32 metadata length + metadata,
 * then per entry: u32 name length + name, u32 size, u32 timestamp, u32 compressed size, u32 crc32, u32 flags,
 * u32 metadata length + metadata; then the file data; then signature, u32 signature flags, "GBMB".
 */
function normalize(string $file, int $timestamp, string $algorithm): void
{
    [$algoFlag, $hashName, $hashLength] = SIGNATURE_ALGORITHMS[$algorithm];
    $data = file_get_contents($file);
    // Case-insensitive, as PHP and the Phar extension find the marker ("__halt_compiler();" is a valid stub).
    if (!preg_match('{__HALT_COMPILER\(\);(?: ?\?>)?(?:\r\n|\n)?}i', $data, $m, PREG_OFFSET_CAPTURE)) {
        throw new BuildFailure('the stub has no __HALT_COMPILER(); marker');
    }
    $pos = $m[0][1] + strlen($m[0][0]);
    $manifestEnd = $pos + 4 + unpack('V', $data, $pos)[1];
    $pos += 4;
    $count = unpack('V', $data, $pos)[1];
    $globalFlagsAt = $pos + 4 + 2;
    $pos += 4 + 2 + 4; // count, api version, global flags
    $pos += 4 + unpack('V', $data, $pos)[1]; // alias
    $pos += 4 + unpack('V', $data, $pos)[1]; // metadata
    $stamp = pack('V', $timestamp);
    $anyGz = false;
    for ($i = 0; $i < $count; $i++) {
        $pos += 4 + unpack('V', $data, $pos)[1]; // name
        $pos += 4; // uncompressed size
        putBytes($data, $pos, $stamp);
        $pos += 4 + 4 + 4; // timestamp, compressed size, crc32
        $flags = unpack('V', $data, $pos)[1];
        $anyGz = $anyGz || ($flags & PHAR_GZ) !== 0;
        putBytes($data, $pos, pack('V', ($flags & ~0x1FF) | 0644));
        $pos += 4;
        $pos += 4 + unpack('V', $data, $pos)[1]; // entry metadata
    }
    if ($pos !== $manifestEnd) {
        throw new BuildFailure("manifest parse ended at {$pos}, expected {$manifestEnd}");
    }
    if ($anyGz) {
        // The archive-wide "has GZ entries" flag: set by compressFiles() only outside buffering, so set it here
        // and the output stays the same whichever way the entries were compressed.
        putBytes($data, $globalFlagsAt, pack('V', unpack('V', $data, $globalFlagsAt)[1] | PHAR_GZ));
    }
    $length = strlen($data);
    if (substr($data, -4) !== 'GBMB' || unpack('V', $data, $length - 8)[1] !== $algoFlag) {
        throw new BuildFailure('the phar has no ' . $algorithm . ' signature at its end');
    }
    $signedLength = $length - 8 - $hashLength;
    $signature = hash($hashName, substr($data, 0, $signedLength), true);
    putBytes($data, $signedLength, $signature);
    $tmp = $file . '.tmp';
    if (file_put_contents($tmp, $data) !== strlen($data)) {
        throw new BuildFailure("cannot write {$tmp}");
    }
    rename($tmp, $file);
}

/** Overwrites bytes of $data in place (substr_replace would copy the whole archive per call). */
function putBytes(string &$data, int $at, string $bytes): void
{
    $n = strlen($bytes);
    for ($i = 0; $i < $n; $i++) {
        $data[$at + $i] = $bytes[$i];
    }
}

try {
    $plan = readPlan($argv);
    compilePhar($plan);
    exit(0);
} catch (BuildFailure $e) {
    fwrite(STDERR, 'compile.php: error: ' . $e->getMessage() . "\n");
} catch (Throwable $e) {
    fwrite(STDERR, sprintf("compile.php: error: %s:%d: %s\n", $e->getFile(), $e->getLine(), $e->getMessage()));
}
if (isset($plan['output']) && is_string($plan['output'])) {
    @unlink($plan['output']);
    @unlink($plan['output'] . '.tmp');
}
exit(1);
