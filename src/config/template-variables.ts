import type { TextSpec } from './kinds.js';
import { TEMPLATE_NAMES, type TemplateName } from './shape.js';

/** How the table says a variable the integrations need. */
export const REQUIRED = 'required with the integrations';

/** What each event's message says, and to whom. */
const EVENTS: Record<TemplateName, string> = {
  verification_code: 'the code that proves a phone (the template receives `code`)',
  approval_pass_to_visitor: 'the visitor and the companions are told the visit is confirmed',
  approval_reminder_to_employee: "the host is asked to authorize a visitor's request",
  application_submitted_to_visitor: 'the visitor is told the request awaits the host',
  signin_to_visitor: 'each person gets a QR pass at kiosk sign-in (the template holds the link `https://<host>/p/${code}`)',
  visitor_signin_to_employee: 'the host is told the visitor signed in',
  visit_rejected: 'the visitor is told the host rejected the request, with the reason (`visitor`, `host`, `time`, `reason`)',
  visit_cancelled: 'the other people of a visit are told it was cancelled (`visitor`, `host`, `time`, `reason`)',
  visit_rescheduled: 'the visitor and the companions are told the host moved the visit (`visitor`, `host`, `time`: the new start)',
  visit_expired: 'the visitor is told the request was not decided before its window ended (`visitor`, `host`, `time`)',
};

type TemplateVariable = `${'SMS' | 'WECHAT'}_TPL_${Uppercase<TemplateName>}`;

/**
 * One SMS template code and one WeChat template id per event. Simulated, an unset one is the
 * event's name, which the simulators accept. Verification codes go by SMS only: their WeChat
 * id is never required.
 */
export const templates = Object.fromEntries(
  TEMPLATE_NAMES.flatMap((name) => {
    const upper = name.toUpperCase();
    const sms: TextSpec = { kind: 'text', shown: `${REQUIRED}; simulated: \`${name}\``, meaning: `The Aliyun template code of \`${name}\`: ${EVENTS[name]}.` };
    const wechat: TextSpec =
      name === 'verification_code'
        ? { kind: 'text', shown: `\`${name}\``, meaning: 'Unused: verification codes are sent by SMS only.' }
        : { kind: 'text', shown: sms.shown, meaning: `The WeChat template message id of \`${name}\`: ${EVENTS[name]}.` };
    return [
      [`SMS_TPL_${upper}`, sms],
      [`WECHAT_TPL_${upper}`, wechat],
    ];
  }),
) as Record<TemplateVariable, TextSpec>;
