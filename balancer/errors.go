package balancer

import "errors"

// ErrUnknown is returned (wrapped, with the allowed names) by [Parse] when the
// name matches no balancer.
var ErrUnknown = errors.New("balancer: unknown balancer")
