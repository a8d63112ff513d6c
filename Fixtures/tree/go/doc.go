package main

// doc
func F() {}

func G() {}

// A is documented
// over two lines.
type A struct{}

// M has a doc comment.
func (a A) M() int { return 1 }

func (a A) N() int {
	// inside
	x := 1
	// trailing
	return x
}

// orphan comment

/* block */
func H() {}
