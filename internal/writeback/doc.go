// Package writeback writes a local file front to back, as a download does, sending what is
// written to the disk as it goes and dropping it from the page cache once it is there, so
// that a large download neither fills the machine's memory with dirty pages (the kernel
// would write them later all at once, slowing every other program) nor evicts what other
// programs keep cached. Only a window of the file, Window bytes behind the writing point,
// is ever held in memory; small files never reach it and are written as usual.
//
// It is the pattern Linux's developers advise for streaming writes: start the write-back of
// each step as soon as it is written (sync_file_range), then, a window later, wait for that
// step to be on disk and drop its pages (posix_fadvise DONTNEED). Where the system offers
// neither (other systems, pipes, devices), a File is a plain file.
//
// It never syncs the file as a whole: a download is not made durable by it, only kept out
// of memory.
package writeback
