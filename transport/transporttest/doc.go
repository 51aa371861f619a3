// Package transporttest is the conformance suite every transport.Target
// implementation runs: the same scenarios, each ending with a comparison of
// source and target trees by internal/treediff.
package transporttest
