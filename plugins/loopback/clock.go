package main

import "time"

// clock is what the loopback needs of time, so tests can drive delivery delays by hand.
type clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func())
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) { time.AfterFunc(d, f) }
