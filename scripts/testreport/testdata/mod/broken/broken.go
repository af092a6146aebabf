package broken

func X() int { return "not an int" }
