import { FakeHypervisor, NoopHypervisor } from '../../../src/adapters/hypervisor/fake-hypervisor.js';
import { ExecHypervisor } from '../../../src/adapters/hypervisor/exec-hypervisor.js';
import { CryptoRandom, SystemClock } from '../../../src/adapters/clock/system-clock.js';
import { ManualClock } from '../../../src/adapters/memory/manual-clock.js';
import { SeededRandom } from '../../../src/adapters/memory/seeded-random.js';
import { clockContract, hypervisorContract, randomContract } from '../../contract/port-contracts.js';

clockContract('ManualClock', {
  create: () => new ManualClock(),
  pass: (clock, ms) => {
    (clock as ManualClock).advance(ms);
    return Promise.resolve();
  },
});

clockContract('SystemClock', {
  create: () => new SystemClock(),
  pass: (_clock, ms) => new Promise((r) => setTimeout(r, ms)),
});

randomContract('SeededRandom', () => new SeededRandom(Math.floor(Math.random() * 2 ** 31)));
randomContract('CryptoRandom', () => new CryptoRandom());

hypervisorContract('FakeHypervisor', {
  create: () => new FakeHypervisor(),
  failing: () => {
    const hv = new FakeHypervisor();
    hv.failNext = new Error('libvirt: domain not found');
    return hv;
  },
});
hypervisorContract('NoopHypervisor', { create: () => new NoopHypervisor() });
hypervisorContract('ExecHypervisor', {
  create: () => new ExecHypervisor({ commands: { fence: 'true {vm}', start: 'true {vm}', stop: 'true {vm}' } }),
  failing: () => new ExecHypervisor({ commands: { fence: 'false {vm}', start: 'false', stop: 'false' } }),
});
