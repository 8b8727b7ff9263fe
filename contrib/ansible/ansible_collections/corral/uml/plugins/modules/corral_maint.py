#!/usr/bin/python
# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: corral_maint
short_description: Run a corral maintenance job on one or several UML guests of a host
description:
  - Runs C(corral maint JOB --json) on the managed host and returns its report(s).
  - With C(each), corral runs the job once per guest, C(jobs) at a time (C(--each -j N)); Ansible
    itself fans out over hosts (C(forks)).
  - C(changed) comes from corral's report; a job that found nothing to do (for example
    install-modules with the same tree already installed) reports C(changed=false).
  - Check mode runs C(corral maint JOB --dry-run --json), which writes no file, and reports C(changed)
    from corral's plan (C(plan.changed)). A job whose plan says it cannot tell (null; a template without a
    read-only answer, such as fsck --repair or run) counts as changed, and its reason is in C(msg).
    install-modules answers from a boot with the COW attached read-only.
options:
  job:
    description: A built-in job (install-modules, fsck, flatten-rsync, rebuild-cow) or, with I(template), any template name.
    required: true
    type: str
  cow:
    description: The guest's COW (or use I(each)).
    type: path
  each:
    description: Several guests of this host; the job runs once per guest.
    type: list
    elements: path
  jobs:
    description: With I(each), guests at a time (corral's -j).
    type: int
    default: 1
  params:
    description: The job's parameters; a key K becomes C(--K VALUE), C(true) a bare C(--K) flag (with I(template), C(--set K=VALUE)).
    type: dict
    default: {}
  template:
    description: Run I(job) as a template by name (C(corral maint job NAME --set ...)), e.g. one of your own.
    type: bool
    default: false
  templates:
    description: Directories with your own templates (C(--templates)).
    type: list
    elements: path
    default: []
  kernel:
    description: The UML kernel (C(--kernel)); corral's default when unset.
    type: str
  step_timeout:
    description: Limit for a step, seconds.
    type: float
  executable:
    description: The corral binary.
    type: str
    default: corral
'''

EXAMPLES = r'''
- corral.uml.corral_maint:
    job: install-modules
    each: "{{ guests }}"
    jobs: 2
    params:
      modules: /usr/lib/uml/modules/6.1.176
'''

RETURN = r'''
reports:
  description: corral's JSON report per guest (job, guest, ok, changed, exitStatus, reason, steps, changes; in check mode
    also plan - parameters, disks with their preflight, changed true/false/null and reason).
  returned: always
  type: list
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.corral.uml.plugins.module_utils.corral import Corral
import json


def main():
    module = AnsibleModule(
        argument_spec=dict(
            job=dict(type='str', required=True),
            cow=dict(type='path'),
            each=dict(type='list', elements='path'),
            jobs=dict(type='int', default=1),
            params=dict(type='dict', default={}),
            template=dict(type='bool', default=False),
            templates=dict(type='list', elements='path', default=[]),
            kernel=dict(type='str'),
            step_timeout=dict(type='float'),
            executable=dict(type='str', default='corral'),
        ),
        mutually_exclusive=[('cow', 'each')],
        supports_check_mode=True,
    )
    p = module.params
    corral = Corral(module)

    args = ['maint']
    if p['template']:
        args += ['job', p['job']]
        for key, value in sorted(p['params'].items()):
            args += ['--set', '%s=%s' % (key, value)]
        if p['cow']:
            args += ['--set', 'cow=%s' % p['cow']]
    else:
        args.append(p['job'])
        for key, value in sorted(p['params'].items()):
            flag = '--' + key.replace('_', '-')
            if value is True:
                args.append(flag)
            elif value is not False and value is not None:
                args += [flag, str(value)]
        if p['cow']:
            args += ['--cow', p['cow']]
    for directory in p['templates']:
        args += ['--templates', directory]
    if p['kernel']:
        args += ['--kernel', p['kernel']]
    if p['step_timeout']:
        args += ['--step-timeout', str(p['step_timeout'])]
    if p['each']:
        args += ['-j', str(p['jobs']), '--each'] + p['each']
    if module.check_mode:
        args.append('--dry-run')
    args.append('--json')

    rc, out, err = corral.run(args)
    try:
        decoded = json.loads(out)
    except ValueError:
        # No report: corral refused the command itself (usage, missing template, ...).
        corral.fail(rc, out, err, args)
    reports = decoded if isinstance(decoded, list) else [decoded]
    # A report without the field comes from a corral that cannot say "nothing
    # to do": a successful job then counts as a change.
    if module.check_mode:
        # The plan's answer; null (corral cannot tell) counts as a change.
        plans = [r.get('plan') or {} for r in reports]
        changed = any(plan.get('changed') is not False for plan in plans)
    else:
        changed = any(r.get('changed', r.get('ok', False)) for r in reports)
    failed = [r for r in reports if not r.get('ok')]
    if failed or rc != 0:
        lines = ['%s: %s' % (r.get('guest') or r.get('job'), r.get('reason') or 'failed') for r in failed]
        reason, hint = Corral.reason(err)
        msg = '; '.join(lines) or reason or 'corral maint %s exited with status %d' % (p['job'], rc)
        if lines and reason and reason not in msg:
            # corral's own line on stderr says why (e.g. the preflight's finding).
            msg += ' (%s)' % reason
        module.fail_json(msg=msg, hint=hint, changed=changed, rc=rc, reports=reports,
                         ok_guests=[r.get('guest') for r in reports if r.get('ok')],
                         failed_guests=[r.get('guest') for r in failed])
    if module.check_mode:
        module.exit_json(changed=changed, rc=rc, reports=reports,
                         msg='; '.join('%s: %s' % (r.get('guest'), (r.get('plan') or {}).get('reason')) for r in reports))
    module.exit_json(changed=changed, rc=rc, reports=reports)


if __name__ == '__main__':
    main()
