"""The portal: the French web front of MCVT, a backend-for-frontend over the public APIs."""
