package rego

import (
	"context"
	"errors"
	"fmt"
	"runtime/metrics"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	opa "github.com/open-policy-agent/opa/v1/rego"
)

// DefaultTimeout bounds one evaluation of one rule on one object when Policy.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// DefaultMaxMemory bounds how much the Go heap may grow during one evaluation when
// Policy.MaxMemory is zero: 1 GiB.
const DefaultMaxMemory = 1 << 30

// watchInterval is how often an evaluation's memory is sampled.
const watchInterval = 5 * time.Millisecond

// heapMetric is the Go heap's size: live objects and those not yet swept.
const heapMetric = "/memory/classes/heap/objects:bytes"

// limits are the bounds of one evaluation.
type limits struct {
	timeout   time.Duration
	maxMemory uint64
}

// limitsOf returns a policy's limits, with the defaults for zero values.
func limitsOf(p *Policy) limits {
	l := limits{timeout: p.Timeout, maxMemory: p.MaxMemory}
	if l.timeout <= 0 {
		l.timeout = DefaultTimeout
	}
	if l.maxMemory == 0 {
		l.maxMemory = DefaultMaxMemory
	}
	return l
}

// errLimit is the cause of an evaluation that polc stopped.
type errLimit struct{ msg string }

func (e *errLimit) Error() string { return e.msg }

// eval evaluates a prepared query on input in, in polc's sandbox: it stops the evaluation when it
// runs longer than the timeout, when the Go heap grows by more than maxMemory while it runs, or
// when ctx is done. A stopped evaluation returns an *errLimit (or ctx's error) at once: OPA checks
// for cancellation between evaluation steps, and a builtin that is still running when its
// evaluation is stopped finishes in the background, its result unused.
//
// The heap is the whole process's, so evaluations running at the same time share the budget: when
// one of them grows the heap too much, the others may be stopped too.
func eval(ctx context.Context, q opa.PreparedEvalQuery, in ast.Value, l limits) (opa.ResultSet, error) {
	tctx, cancelTimeout := context.WithTimeoutCause(ctx, l.timeout, &errLimit{fmt.Sprintf("took longer than %s", l.timeout)})
	defer cancelTimeout()
	ectx, stop := context.WithCancelCause(tctx)
	defer stop(nil)

	type result struct {
		rs  opa.ResultSet
		err error
	}
	done := make(chan result, 1)
	base := heapBytes()
	go func() {
		rs, err := q.Eval(ectx, opa.EvalParsedInput(in), opa.EvalGenerateJSON(keepAST))
		done <- result{rs, err}
	}()
	tick := time.NewTicker(watchInterval)
	defer tick.Stop()
	for {
		select {
		case r := <-done:
			if r.err != nil && ectx.Err() != nil {
				return nil, stopped(ectx) // rather than OPA's "eval_cancel_error"
			}
			return r.rs, r.err
		case <-ectx.Done():
			return nil, stopped(ectx)
		case <-tick.C:
			if now := heapBytes(); now > base && now-base > l.maxMemory {
				stop(&errLimit{"stopped: the Go heap grew by more than " + bytesString(l.maxMemory) + " while it ran"})
			}
		}
	}
}

// stopped returns why ctx was cancelled: an *errLimit, or the caller's reason wrapped.
func stopped(ctx context.Context) error {
	cause := context.Cause(ctx)
	if _, ok := errors.AsType[*errLimit](cause); ok {
		return cause
	}
	return fmt.Errorf("stopped: %w", cause)
}

// bytesString writes out a number of bytes in GiB or MiB when it is a whole number of them.
func bytesString(n uint64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// heapBytes samples the size of the Go heap.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// keepAST leaves a query's result as the Rego value it is, instead of converting it to Go values,
// which would write out in full a value that nests another many times over. See violations.
func keepAST(t *ast.Term, _ *opa.EvalContext) (any, error) {
	return t, nil
}
