# -*- coding: utf-8 -*-
"""Running the installed corral from a module: argument lists in, JSON out,
corral's own one-line reason and hint on failure."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json


class Corral(object):
    def __init__(self, module):
        self.module = module
        self.binary = module.get_bin_path(module.params.get('executable') or 'corral', required=True)

    def run(self, args):
        """(rc, stdout, stderr) of corral ARGS; never raises on a non-zero exit."""
        return self.module.run_command([self.binary] + list(args), check_rc=False)

    def json(self, args, ok_codes=(0,)):
        """corral ARGS with --json, decoded; fails the task with corral's reason otherwise."""
        rc, out, err = self.run(args)
        if rc not in ok_codes:
            self.fail(rc, out, err, args)
        try:
            return rc, json.loads(out)
        except ValueError:
            self.module.fail_json(msg='corral %s printed no JSON' % ' '.join(args[:2]), rc=rc,
                                  stdout=out, stderr=err)

    @staticmethod
    def reason(err):
        """corral's one-line reason (the 'corral: ...' line) and its 'hint: ...' line."""
        reason, hint = None, None
        for line in err.splitlines():
            line = line.strip()
            if line.startswith('corral: ') and reason is None:
                reason = line[len('corral: '):]
            elif line.startswith('hint: ') and hint is None:
                hint = line[len('hint: '):]
        if reason is None:
            lines = [l for l in err.splitlines() if l.strip()]
            reason = lines[-1].strip() if lines else None
        return reason, hint

    def fail(self, rc, out, err, args, **extra):
        reason, hint = self.reason(err)
        msg = reason or 'corral %s exited with status %d' % (' '.join(args[:2]), rc)
        self.module.fail_json(msg=msg, hint=hint, rc=rc, stderr=err, stdout=out,
                              cmd=[self.binary] + list(args), **extra)
