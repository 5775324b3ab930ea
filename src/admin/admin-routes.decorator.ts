import { applyDecorators, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ADMIN_BEARER_SCHEME } from '../http/openapi.js';
import { AdminAuthGuard } from './admin-auth.guard.js';
import { ApiErrorDto } from './admin.dto.js';

/**
 * What makes a controller part of the admin API: every route behind an
 * admin key (`AdminAuthGuard`, which also names the admin for the audit),
 * and described so in OpenAPI (tag, bearer scheme, the 401).
 */
export function AdminRoutes(): ClassDecorator {
  return applyDecorators(
    ApiTags('admin'),
    ApiBearerAuth(ADMIN_BEARER_SCHEME),
    ApiUnauthorizedResponse({
      description:
        'No, or a wrong, admin key: `Authorization: Bearer <key>`, a key of ADMIN_TOKEN / ADMIN_TOKENS.',
      type: ApiErrorDto,
    }),
    UseGuards(AdminAuthGuard),
  );
}
