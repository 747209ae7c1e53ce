package testutil

import "strings"

// AliasBomb returns head followed by the anchors a to i of a billion-laughs document, indented by
// two spaces so that they are entries of the mapping head opens: a is a list of nine scalars and
// each next anchor a list of nine aliases of the one before, so *i expands to 9^9 nodes.
func AliasBomb(head string) string {
	var b strings.Builder
	b.WriteString(head)
	b.WriteString("  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		b.WriteString("  " + name + ": &" + name + " [")
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*" + prev)
		}
		b.WriteString("]\n")
		prev = name
	}
	return b.String()
}
