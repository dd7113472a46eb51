// The slice of the WebAssembly JS API the kernel uses, typed here because this project's lib
// settings (ES2023 + @types/node 20) declare no `WebAssembly` global. Same objects, no wrapper.

/** A WebAssembly.Memory; `buffer` is a SharedArrayBuffer when created with `shared: true`. */
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  /** Grows by `pages` 64 KiB pages; returns the previous size in pages. */
  grow(pages: number): number;
}

interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  instantiate(bytes: Uint8Array, imports: Record<string, Record<string, unknown>>): Promise<{ instance: { exports: Record<string, unknown> } }>;
}

/** globalThis.WebAssembly (Node >= 20 always has it). */
export const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
