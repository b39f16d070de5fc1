import { describe } from 'node:test'
import { createMemoryCounterRepository } from '../../src/repositories/memory-counter.repository.js'
import { counterStoreContract } from './counter-store.contract.js'

describe('counter store contract: in-process', () => {
  let now = 1_000_000
  const store = createMemoryCounterRepository(() => now)
  counterStoreContract(
    () => store,
    async (ms) => {
      now += ms
    },
  )
})
