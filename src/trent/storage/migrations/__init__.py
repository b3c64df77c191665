"""Schema migrations, one numbered SQL file each, per database engine."""
