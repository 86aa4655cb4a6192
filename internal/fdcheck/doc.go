// Package fdcheck counts this process's open file descriptors, for the
// tests of every shardnet package and module that check that nothing is
// left open after an engine stops. It is test support, internal to the
// project, and Linux only (it reads /proc/self/fd).
package fdcheck
