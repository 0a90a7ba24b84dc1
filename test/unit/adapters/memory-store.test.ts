import { MemoryStore } from '../../../src/adapters/memory/memory-store.js';
import { storeContract } from '../../contract/store-contract.js';

storeContract('MemoryStore', {
  create: () => new MemoryStore(),
  reopen: (store) => store,
});
