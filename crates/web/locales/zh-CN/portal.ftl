# 工单 界面 — 简体中文：客户门户。

## 门户
portal-my-requests = 我的请求
portal-org-requests = 本组织的请求
portal-new-request = 提交请求
portal-mine = 我的
portal-organization = 本组织
portal-all = 全部
portal-open = 处理中
portal-solved = 已解决
portal-none = 您还没有提交过请求。
portal-submit = 提交
portal-reply = 您的回复
portal-send = 发送
portal-mark-solved = 我的问题已解决
portal-closed-follow-up = 该请求已关闭：回复将创建一个与之关联的新请求。
portal-merged = 该请求已并入请求
step-received = 已受理
step-taken = { $group } 已接单
step-handling = 处理中
step-waiting = 等待您回复
step-solved = 已解决
step-closed = 已关闭
step-merged = 已并入 #{ $ticket }
