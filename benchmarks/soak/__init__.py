"""The soak (`make soak`, not part of CI): the whole stack as `make run` starts it, loaded first
to its ceiling, then for a long run at half of it, with every effect counted at the end."""
