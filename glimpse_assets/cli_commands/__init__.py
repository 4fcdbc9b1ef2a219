"""The `glimpse` commands besides `serve`, one module each (`glimpse_assets.cli` parses the
arguments and imports a command's module only when it runs, so `glimpse --help` stays quick).
They read and write the storage as the service does, through the domains' own code."""
