package relay

import "errors"

var (
	// ErrNoBackend is the close reason of a client for which no backend of
	// its pool answered: every one was out of rotation, or refused, or
	// timed out.
	ErrNoBackend = errors.New("relay: no backend available")

	// ErrNeedMore is returned by a Router that has to see more of the
	// client's first bytes before it can choose.
	ErrNeedMore = errors.New("relay: router needs more bytes")

	// ErrSniffLimit is the close reason of a client whose first bytes
	// passed WithSniff's limit, or ended, before the Router chose a pool.
	ErrSniffLimit = errors.New("relay: client head too long or incomplete for the router")

	// ErrUnknownPool is the close reason of a client for which the Router
	// chose a Pool that was not given to New with WithPool.
	ErrUnknownPool = errors.New("relay: the router chose a pool not given to New")

	// ErrInvalidOption is returned by New and NewPool for an option out of
	// range; the message names it.
	ErrInvalidOption = errors.New("relay: invalid option")

	// ErrPoolInUse is returned by OnBoot when a Pool already serves
	// another Proxy: its counts and health state belong to one.
	ErrPoolInUse = errors.New("relay: pool already used by another proxy")
)
