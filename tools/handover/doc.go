// Package handover passes listening sockets from one process to the next,
// so that a server restarts without refusing a connection: the kernel
// keeps a listening socket, and the connections in its accept queue, for
// as long as any process holds an fd of it.
//
// Sockets arrive in one of three ways:
//
//   - systemd socket activation: systemd opens the sockets and starts us
//     with them at fds 3, 4, ...; LISTEN_FDS says how many, LISTEN_FDNAMES
//     names them (colon-separated) and LISTEN_PID must equal our pid, or
//     they were meant for another process.
//   - our own re-exec: the old process starts the new one with its sockets
//     as extra files (also from fd 3) and says so in SHARDNET_LISTEN_FDS
//     and SHARDNET_LISTEN_FDNAMES. There is no pid variable: the parent
//     cannot know the child's pid before it starts it.
//   - a unix socket: Send writes the sockets to a connected
//     SOCK_SEQPACKET unix socket as SCM_RIGHTS control messages, each with
//     the files' names in its payload, and Receive reads them back, so
//     an unrelated new process can ask a running one for its sockets.
//
// Inherited reads either set of variables and unsets them, so that a
// process we start does not take the sockets for its own. A file's name
// is the address it serves ("tcp://127.0.0.1:7000") for sockets we hand
// over, or what LISTEN_FDNAMES says for systemd's.
//
// Every function here may be called from any goroutine. The package holds
// no state: the environment is read and written only by Inherited, which
// a program calls once at start.
package handover
