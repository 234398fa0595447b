package trust

func platformDefaults(*Env) error { return nil }
