#!/usr/bin/python
# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: corral_cow
short_description: Check, inspect, flatten, commit or rebuild a UML COW file with corral
description:
  - Runs the installed C(corral cow) verb on the managed host and returns its JSON.
  - C(changed) is true only when a file changed. C(flatten) and C(from-image) leave an output
    that already shows the guest the same disk alone (corral cow compare says so), C(commit) of a
    COW with no data does nothing.
  - Check mode asks corral what would change and changes nothing - check and info never change a file;
    flatten and from-image compare an existing output with the disk (C(cow compare)) and check the
    input (C(cow check)); commit reads C(cow info) (a COW without data has nothing to commit) and
    checks the COW. C(msg) says what a real run would do.
options:
  verb:
    description: What to do.
    choices: [check, info, flatten, commit, from-image]
    required: true
    type: str
  cow:
    description: The COW file (for from-image, the COW to write).
    required: true
    type: path
  output:
    description: flatten - the image to write.
    type: path
  image:
    description: from-image - the flat image to turn into a COW.
    type: path
  backing:
    description: The backing file (from-image - required; other verbs - instead of the header's path).
    type: path
  force:
    description: Let flatten and from-image replace a different existing output; let commit invalidate other COWs.
    type: bool
    default: false
  deep:
    description: check - also verify the backing's content against its fingerprint.
    type: bool
    default: false
  executable:
    description: The corral binary.
    type: str
    default: corral
'''

EXAMPLES = r'''
- corral.uml.corral_cow:
    verb: flatten
    cow: /srv/uml/web1.cow
    output: /srv/uml/web1.img
'''

RETURN = r'''
result:
  description: corral's JSON for the verb (for an output left alone, what was compared).
  returned: always
  type: dict
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.corral.uml.plugins.module_utils.corral import Corral


def same_disk(corral, a, b):
    """corral cow compare: True same guest view, False different; fails on an error."""
    rc, out, err = corral.run(['cow', 'compare', a, b])
    if rc == 2:
        corral.fail(rc, out, err, ['cow', 'compare', a, b])
    return rc == 0


def preflight(corral, module, path, backing=(), deep=False):
    """corral cow check: fails the task with the first problem's message and fix (the check verb,
    and check mode on an input a real run would read, so it fails where the run would)."""
    args = ['cow', 'check', '--json'] + (['--deep'] if deep else []) + list(backing) + [path]
    rc, report = corral.json(args, ok_codes=(0, 1))
    if rc == 1:
        problems = [f for f in report.get('findings', []) if f.get('severity') != 'warning']
        first = problems[0] if problems else {}
        module.fail_json(msg='%s: %s' % (path, first.get('message', 'problems found')),
                         hint=first.get('fix'), rc=rc, result=report)
    return report


def main():
    module = AnsibleModule(
        argument_spec=dict(
            verb=dict(type='str', required=True, choices=['check', 'info', 'flatten', 'commit', 'from-image']),
            cow=dict(type='path', required=True),
            output=dict(type='path'),
            image=dict(type='path'),
            backing=dict(type='path'),
            force=dict(type='bool', default=False),
            deep=dict(type='bool', default=False),
            executable=dict(type='str', default='corral'),
        ),
        required_if=[('verb', 'flatten', ['output']), ('verb', 'from-image', ['image', 'backing'])],
        supports_check_mode=True,
    )
    p = module.params
    corral = Corral(module)
    verb, cow = p['verb'], p['cow']
    backing = ['--backing', p['backing']] if p['backing'] and verb != 'from-image' else []

    if verb == 'info':
        _, info = corral.json(['cow', 'info', '--json'] + backing + [cow])
        module.exit_json(changed=False, result=info)

    if verb == 'check':
        module.exit_json(changed=False, result=preflight(corral, module, cow, backing, deep=p['deep']))

    if verb == 'flatten':
        output = p['output']
        if os.path.exists(output):
            if same_disk(corral, cow, output):
                module.exit_json(changed=False, result=dict(output=output, identical=True),
                                 msg='%s already holds the disk of %s' % (output, cow))
            if not p['force']:
                module.fail_json(msg='%s exists and differs from the disk of %s' % (output, cow),
                                 hint='set force: true to replace it')
        if module.check_mode:
            preflight(corral, module, cow, backing)
            what = 'replace' if os.path.exists(output) else 'create'
            module.exit_json(changed=True, result=dict(output=output, identical=False),
                             msg='would %s %s with the disk of %s (corral cow flatten)' % (what, output, cow))
        args = ['cow', 'flatten', '--json'] + backing + (['--force'] if os.path.exists(output) else []) + [cow, output]
        _, result = corral.json(args)
        module.exit_json(changed=result.get('changed', True), result=result)

    if verb == 'commit':
        _, info = corral.json(['cow', 'info', '--json'] + backing + [cow])
        if info.get('dirtySectors', 1) == 0:
            module.exit_json(changed=False, result=info, msg='%s holds no data: nothing to commit' % cow)
        if module.check_mode:
            preflight(corral, module, cow, backing)
            module.exit_json(changed=True, result=info,
                             msg='would commit %s dirty sectors of %s into %s' % (info.get('dirtySectors'), cow, info.get('backingFile')))
        args = ['cow', 'commit', '--json'] + backing + (['--force'] if p['force'] else []) + [cow]
        _, result = corral.json(args)
        module.exit_json(changed=result.get('changed', True), result=result)

    # from-image: IMAGE over BACKING into the COW.
    image, base = p['image'], p['backing']
    if os.path.exists(cow):
        _, info = corral.json(['cow', 'info', '--json', cow])
        same_backing = os.path.realpath(info.get('backingFile', '')) == os.path.realpath(base)
        if same_backing and same_disk(corral, image, cow):
            module.exit_json(changed=False, result=info, msg='%s already holds %s over %s' % (cow, image, base))
        if not p['force']:
            module.fail_json(msg='%s exists and differs from %s over %s' % (cow, image, base),
                             hint='set force: true to replace it')
    if module.check_mode:
        for path in (image, base):
            if not os.path.exists(path):
                module.fail_json(msg='%s does not exist' % path, hint='give an existing image and backing')
        what = 'replace' if os.path.exists(cow) else 'create'
        module.exit_json(changed=True, result=dict(cow=cow, image=image, backing=base),
                         msg='would %s %s holding %s over %s (corral cow from-image)' % (what, cow, image, base))
    args = ['cow', 'from-image', '--json', '--backing', base] + (['--force'] if os.path.exists(cow) else []) + [image, cow]
    _, result = corral.json(args)
    module.exit_json(changed=result.get('changed', True), result=result)


if __name__ == '__main__':
    main()
