package main

// doc
func F() {}

func G() {}
