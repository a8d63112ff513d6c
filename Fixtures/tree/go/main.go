// Command main is a Go parsing fixture: structs, interfaces, goroutines, channels.
package main

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

type Shape interface {
	Area() float64
	Name() string
}

type Rect struct {
	W, H float64
}

func (r Rect) Area() float64 { return r.W * r.H }
func (r Rect) Name() string { return "rect" }

type Square struct {
	Rect
	label string `json:"label,omitempty"`
}

func (s Square) Name() string { return "square:" + s.label }

type result struct {
	name string
	area float64
}

func worker(id int, jobs <-chan Shape, out chan<- result, wg *sync.WaitGroup) {
	defer wg.Done()
	for s := range jobs {
		time.Sleep(time.Millisecond * time.Duration(id))
		out <- result{name: s.Name(), area: s.Area()}
	}
}

func main() {
	shapes := []Shape{
		Rect{W: 2, H: 3},
		Square{Rect: Rect{4, 4}, label: "big"},
		Rect{1.5, 2},
	}

	jobs := make(chan Shape, len(shapes))
	out := make(chan result, len(shapes))
	var wg sync.WaitGroup

	for i := 1; i <= 3; i++ {
		wg.Add(1)
		go worker(i, jobs, out, &wg)
	}
	for _, s := range shapes {
		jobs <- s
	}
	close(jobs)

	go func() {
		wg.Wait()
		close(out)
	}()

	var names []string
	total := 0.0
	for r := range out {
		names = append(names, r.name)
		total += r.area
	}
	select {
	case <-time.After(10 * time.Millisecond):
	default:
	}
	fmt.Printf("%s => %.2f\n", strings.Join(names, ","), total)
}
