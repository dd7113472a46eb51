// The SIMD kernel's linear memory and its allocator. The memory is shared (SharedArrayBuffer
// backed) on purpose: growing a non-shared WebAssembly.Memory detaches every view into it, while
// views into a shared one stay valid, so shard buffers handed out as views survive later growth.
// Allocations are 64-byte aligned, never move, and are recycled through exact-size free lists
// (shard sizes repeat: one block size per erasure set).
import { assert } from '../util/assert.js';
import { TesseraError } from '../util/errors.js';
import {
  kernelAllocationAlignBytes,
  kernelMemoryGrowMinBytes,
  kernelMemoryInitialBytes,
  kernelMemoryMaxBytes,
} from '../util/limits.js';
import { wasmApi, type WasmMemory } from './wasm-api.js';

/** Bytes of a WebAssembly page. */
export const wasmPageBytes = 65536;
/** The first page is never handed out, so pointer 0 always means "none". */
const reservedLowBytes = wasmPageBytes;

/** A process-wide arena in the kernel's linear memory. */
export class KernelMemory {
  readonly memory: WasmMemory;
  /** Every SharedArrayBuffer `memory.buffer` has returned; views on any of them alias the memory. */
  private readonly ownBuffers = new WeakSet<ArrayBufferLike>();
  private readonly freeLists = new Map<number, number[]>();
  /** Size of every allocation not yet released, by address: catches double and foreign releases. */
  private readonly live = new Map<number, number>();
  private top = reservedLowBytes;

  constructor() {
    this.memory = new wasmApi.Memory({
      initial: Math.ceil(Math.max(kernelMemoryInitialBytes, reservedLowBytes) / wasmPageBytes),
      maximum: kernelMemoryMaxBytes / wasmPageBytes,
      shared: true,
    });
  }

  /**
   * Reserves `bytes` (> 0) and returns its address, a multiple of 64. Contents are unspecified.
   * Throws TesseraError 'KernelMemoryExhausted' past kernelMemoryMaxBytes.
   */
  allocate(bytes: number): number {
    assert(Number.isInteger(bytes) && bytes > 0, 'allocation size must be a positive integer');
    const size = alignUp(bytes);
    let address = this.freeLists.get(size)?.pop();
    if (address === undefined) {
      address = this.top;
      this.ensureCapacity(address + size);
      this.top = address + size;
    }
    this.live.set(address, size);
    return address;
  }

  /** Returns the allocation at `address` of `bytes` (exactly as given to allocate) for reuse. */
  release(address: number, bytes: number): void {
    const size = alignUp(bytes);
    assert(this.live.get(address) === size, 'release of memory that is not a live allocation of that size');
    this.live.delete(address);
    const list = this.freeLists.get(size);
    if (list) list.push(address);
    else this.freeLists.set(size, [address]);
  }

  /** A Uint8Array of `bytes` bytes at `address`, aliasing the kernel memory (no copy). */
  view(address: number, bytes: number): Uint8Array {
    const buffer = this.memory.buffer;
    this.ownBuffers.add(buffer);
    return new Uint8Array(buffer, address, bytes);
  }

  /** The kernel address of `bytes`' first byte when it is a view into this memory, else undefined. */
  addressOf(bytes: Uint8Array): number | undefined {
    return this.ownBuffers.has(bytes.buffer) ? bytes.byteOffset : undefined;
  }

  private ensureCapacity(endBytes: number): void {
    const current = this.memory.buffer.byteLength;
    if (endBytes <= current) return;
    if (endBytes > kernelMemoryMaxBytes) {
      throw new TesseraError('KernelMemoryExhausted', `erasure kernel memory would exceed ${kernelMemoryMaxBytes} bytes`, {
        requestedBytes: endBytes,
        limitBytes: kernelMemoryMaxBytes,
      });
    }
    const wanted = Math.min(kernelMemoryMaxBytes, Math.max(endBytes, current + kernelMemoryGrowMinBytes));
    this.memory.grow(Math.ceil((wanted - current) / wasmPageBytes));
  }
}

function alignUp(bytes: number): number {
  return Math.ceil(bytes / kernelAllocationAlignBytes) * kernelAllocationAlignBytes;
}
