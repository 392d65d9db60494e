import { All, Controller, Param, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentPrincipal, type Principal, RequireScopes } from '../../common/auth/principal.js';
import { IdParam } from '../../common/validation/id-param.js';
import { ProxyService } from './proxy.service.js';

@ApiTags('proxy')
@ApiBearerAuth()
@Controller('api/v1/proxy')
export class ProxyController {
  constructor(private readonly proxy: ProxyService) {}

  @All(':connectionId/*path')
  @RequireScopes('proxy')
  @ApiOperation({ summary: "Call the provider's API as the end user (any method; bodies streamed both ways)" })
  async forward(
    @CurrentPrincipal() principal: Principal,
    @Param('connectionId', IdParam) connectionId: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.proxy.forward(principal, connectionId, req, res);
  }
}
