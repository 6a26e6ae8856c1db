-- Notification templates: what the desk tells people, once per language; a rule's notify
-- action names one (template_id) and each person reads their own language.
CREATE TABLE notification_templates (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    subject_zh TEXT    NOT NULL,
    body_zh    TEXT    NOT NULL,
    subject_en TEXT    NOT NULL,
    body_en    TEXT    NOT NULL,
    created_at INTEGER  NOT NULL,
    updated_at INTEGER  NOT NULL
);

-- A fresh table: these are templates 1 to 5, in order.
INSERT INTO notification_templates (name, subject_zh, body_zh, subject_en, body_en, created_at, updated_at) VALUES
    ('已收到请求 · Request received',
     '我们已收到您的请求 #{{ticket.number}}：{{ticket.subject}}',
     '{{requester.name}}，您好：

我们已收到您的请求“{{ticket.subject}}”，编号 #{{ticket.number}}。客服会尽快回复您；补充信息请直接回复本邮件。',
     'We received your request #{{ticket.number}}: {{ticket.subject}}',
     'Hello {{requester.name}},

We received your request “{{ticket.subject}}” as ticket #{{ticket.number}}. An agent will answer soon; reply to this mail to add anything.',
     0, 0),
    ('等待您的回复 · Awaiting your reply',
     '工单 #{{ticket.number}} 在等您回复',
     '{{requester.name}}，您好：

我们在等您对“{{ticket.subject}}”的回复。回复本邮件即可继续处理。',
     'Ticket #{{ticket.number}} awaits your reply',
     'Hello {{requester.name}},

We are waiting for your reply on “{{ticket.subject}}”. Reply to this mail to carry on.',
     0, 0),
    ('已解决 · Solved',
     '工单 #{{ticket.number}} 已解决：{{ticket.subject}}',
     '{{requester.name}}，您好：

您的工单“{{ticket.subject}}”已解决。如果问题仍在，直接回复本邮件，工单会重新打开。',
     'Ticket #{{ticket.number}} is solved: {{ticket.subject}}',
     'Hello {{requester.name}},

Your ticket “{{ticket.subject}}” is solved. If the problem is still there, reply to this mail and the ticket opens again.',
     0, 0),
    ('分配给您 · Assigned to you',
     '工单 #{{ticket.number}} 已分配给您：{{ticket.subject}}',
     '{{requester.name}} 的工单“{{ticket.subject}}”（{{ticket.priority}}，{{ticket.group}}）已分配给您。',
     'Ticket #{{ticket.number}} is assigned to you: {{ticket.subject}}',
     'The ticket “{{ticket.subject}}” from {{requester.name}} ({{ticket.priority}}, {{ticket.group}}) is now yours.',
     0, 0),
    ('组内新工单无人处理 · New in the group, unassigned',
     '工单 #{{ticket.number}} 30 分钟无人处理',
     '{{ticket.group}} 的新工单“{{ticket.subject}}”（{{requester.name}}）还没有处理人。',
     'Ticket #{{ticket.number}} unassigned for 30 minutes',
     'The new ticket “{{ticket.subject}}” from {{requester.name}} in {{ticket.group}} has nobody on it yet.',
     0, 0);

-- The stock automations say it with the templates now, where an admin left them as shipped.
UPDATE rules SET actions = '[{"field":"notify","value":{"to":"requester","template_id":2}}]'
 WHERE kind = 'automation' AND actions = '[{"field":"notify","value":{"to":"requester","subject":"工单 #{{ticket.number}} 在等您回复 · Ticket #{{ticket.number}} awaits your reply","body":"{{requester.name}}，您好：我们在等您对“{{ticket.subject}}”的回复。 · We are waiting for your reply on “{{ticket.subject}}”."}}]';
UPDATE rules SET actions = '[{"field":"notify","value":{"to":"group","template_id":5}}]'
 WHERE kind = 'automation' AND actions = '[{"field":"notify","value":{"to":"group","subject":"工单 #{{ticket.number}} 30 分钟无人处理 · Ticket #{{ticket.number}} unassigned for 30 minutes","body":"{{ticket.subject}}"}}]';

-- Stock triggers, off until an admin switches them on: neither a new desk nor an upgraded one
-- starts mailing its customers unasked.
INSERT INTO rules (kind, name, active, position, once, conditions, actions, created_at, updated_at) VALUES
    ('trigger', '告知客户已收到请求 · Tell the requester their request arrived', FALSE, 1000000, FALSE,
     '{"all":[{"field":"update","operator":"is","value":"created"}],"any":[]}',
     '[{"field":"notify","value":{"to":"requester","template_id":1}}]', 0, 0),
    ('trigger', '告知客户工单已解决 · Tell the requester the ticket is solved', FALSE, 1000001, FALSE,
     '{"all":[{"field":"status","operator":"changed_to","value":"solved"}],"any":[]}',
     '[{"field":"notify","value":{"to":"requester","template_id":3}}]', 0, 0),
    ('trigger', '告知处理人新分配 · Tell the agent of an assignment', FALSE, 1000002, FALSE,
     '{"all":[{"field":"update","operator":"is","value":"assigned"}],"any":[]}',
     '[{"field":"notify","value":{"to":"assignee","template_id":4}}]', 0, 0);
