/**
 * The reader's remote path: the same scenarios as the unit test, through the `sh -c` script, on
 * this machine (LocalTransport) and over a real OpenSSH server on loopback.
 */
import { LocalTransport } from '../../src/core/exec/localTransport';
import { SshTransport } from '../../src/core/exec/sshTransport';
import { TransportLogSource } from '../../src/core/analysis/logReader';
import { readerScenarios } from '../unit/analysisReader.test';
import { sshdAvailable, startSshd } from '../helpers/sshd';
import type { SshServer } from '../helpers/sshd';
import { skipUnlessCi } from '../helpers/skip';

describe('analysis log reader through the remote script (LocalTransport)', () => {
  const t = new LocalTransport();
  readerScenarios((file) => new TransportLogSource(t, file));
});

describe('analysis log reader over ssh', function () {
  let sshd: SshServer | undefined;
  let t: SshTransport | undefined;
  before(async function () {
    if (!sshdAvailable()) {
      skipUnlessCi(this, '/usr/sbin/sshd or ssh-keygen is not installed');
    }
    sshd = await startSshd();
    t = new SshTransport(sshd.destination, { sshArgs: sshd.sshArgs });
  });
  after(async () => {
    await t?.dispose();
    await sshd?.stop();
  });
  readerScenarios((file) => new TransportLogSource(t!, file));
});
