// Builds AMP corpus messages with Nodemailer's MailComposer (an independent MIME producer).
// Usage: NODE_PATH=/path/to/node_modules node generate.js   (writes *.eml and *.expected.json here)
'use strict';
const fs = require('fs');
const path = require('path');
const MailComposer = require('nodemailer/lib/mail-composer');

const AMP = '<!doctype html><html amp4email><head><meta charset="utf-8">' +
    '<script async src="https://cdn.ampproject.org/v0.js"></script>' +
    '<style amp4email-boilerplate>body{visibility:hidden}</style></head>' +
    '<body>Hello World in AMP!</body></html>';
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

const base = {
    from: 'Sender <sender@example.com>',
    to: 'Rcpt <rcpt@example.org>',
    date: new Date('2024-06-01T12:00:00Z'),
    messageId: '<corpus@example.com>',
    baseBoundary: 'corpus',
    disableFileAccess: true,
    disableUrlAccess: true,
};

const cases = [
    {
        name: 'nm-amp-option',
        mail: { subject: 'amp option', text: 'Hello World in plain text!', html: '<p>Hello World in HTML!</p>', amp: AMP },
        expected: { verdict: 'pass', code: null, actions: [], alternatives: [['text/plain', 'text/x-amp-html', 'text/html']] },
    },
    {
        name: 'nm-amp-attachment',
        mail: {
            subject: 'amp with attachment', text: 'plain', html: '<p>html</p>', amp: AMP,
            attachments: [{ filename: 'report.txt', content: 'report body\n' }],
        },
        expected: { verdict: 'pass', code: null, actions: [], alternatives: [['text/plain', 'text/x-amp-html', 'text/html']] },
    },
    {
        name: 'nm-amp-embedded-image',
        mail: {
            subject: 'amp with cid image', text: 'plain', html: '<p><img src="cid:logo@example.com"></p>', amp: AMP,
            attachments: [{ filename: 'logo.png', content: PNG, cid: 'logo@example.com' }],
        },
        // Nodemailer wraps the HTML and its cid images in multipart/related inside the alternative.
        expected: { verdict: 'pass', code: null, actions: [], alternatives: [['text/plain', 'text/x-amp-html', 'multipart/related']] },
    },
    {
        name: 'nm-amp-as-last-alternative',
        mail: {
            subject: 'amp passed as a plain alternative', text: 'plain', html: '<p>html</p>',
            alternatives: [{ contentType: 'text/x-amp-html; charset=utf-8', content: AMP }],
        },
        expected: {
            verdict: 'rewrite', code: null, actions: ['amp-after-html'],
            alternatives: [['text/plain', 'text/x-amp-html', 'text/html']],
        },
    },
    {
        name: 'nm-amp-twice',
        mail: {
            subject: 'amp option and amp alternative', text: 'plain', html: '<p>html</p>', amp: AMP,
            alternatives: [{ contentType: 'text/x-amp-html; charset=utf-8', content: AMP.replace('Hello', 'Again') }],
        },
        expected: {
            verdict: 'rewrite', code: null, actions: ['amp-duplicate'],
            alternatives: [['text/plain', 'text/x-amp-html', 'text/html']],
        },
    },
    {
        name: 'nm-amp-only',
        mail: { subject: 'amp without fallback', amp: AMP, alternatives: [{ contentType: 'text/calendar', content: 'BEGIN:VCALENDAR\r\nEND:VCALENDAR' }] },
        expected: { verdict: 'reject', code: 'amp-no-fallback', actions: [], alternatives: null },
    },
];

(async () => {
    for (const c of cases) {
        const raw = await new MailComposer({ ...base, ...c.mail }).compile().build();
        fs.writeFileSync(path.join(__dirname, c.name + '.eml'), raw);
        fs.writeFileSync(path.join(__dirname, c.name + '.expected.json'), JSON.stringify(c.expected, null, 2) + '\n');
    }
})();
